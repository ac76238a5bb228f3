/**
 * `lanyard proxy-init --cleanup` removes exactly what proxy-init added — the two jumps and
 * its four chains — so the nat table is the one from before, unrelated rules and chains
 * included, for IPv4 and (when ip6tables works) IPv6. A second cleanup finds nothing.
 */
import { lanyard } from '../support/cli.js';
import { NetnsSet, needsNetns, inNs, ip6NatWorks, natTable, saveToolFrom, setUp } from './proxy-init-support.js';

const SCENARIO = 'proxy-init-cleanup-restores-the-previous-ruleset';
const spaces = new NetnsSet();
afterAll(() => spaces.deleteAll());

needsNetns().test('cleanup restores the exact pre-existing nat table, unrelated rules intact', async () => {
  const [ns] = setUp(spaces, ['clean']);
  // Learn the backend from a dry run, then put unrelated rules in that backend's table.
  const dry = await lanyard(['proxy-init', '--netns', ns, '--dry-run']);
  expect(dry.code).toBe(0);
  const save4 = saveToolFrom(dry.stderr, 4);
  const save6 = saveToolFrom(dry.stderr, 6);
  const ipt4 = save4.replace('-save', '');
  inNs(ns, ipt4, '-t', 'nat', '-N', 'OTHER_MESH');
  inNs(ns, ipt4, '-t', 'nat', '-A', 'OTHER_MESH', '-p', 'tcp', '--dport', '9', '-j', 'RETURN');
  inNs(ns, ipt4, '-t', 'nat', '-A', 'OUTPUT', '-d', '192.0.2.1/32', '-j', 'ACCEPT');
  inNs(ns, ipt4, '-t', 'nat', '-A', 'PREROUTING', '-p', 'udp', '-j', 'OTHER_MESH');
  inNs(ns, ipt4, '-t', 'nat', '-A', 'POSTROUTING', '-o', 'lo', '-j', 'MASQUERADE');
  const ipv6 = ip6NatWorks(ns, save6);
  if (ipv6) inNs(ns, save6.replace('-save', ''), '-t', 'nat', '-A', 'OUTPUT', '-d', '2001:db8::1/128', '-j', 'ACCEPT');
  else console.warn(`${SCENARIO}: IPv6 part not checked: ${save6} cannot read a nat table here`);
  const before4 = natTable(ns, save4);
  const before6 = ipv6 ? natTable(ns, save6) : '';

  const install = await lanyard(['proxy-init', '--netns', ns, '--inbound-ports-to-ignore', '22', '--proxy-gid', '2103']);
  expect(install.code).toBe(0);
  const installed = natTable(ns, save4);
  expect(installed).toContain(':LANYARD_OUTPUT');
  // Lanyard's jumps come after the rules that were there first.
  const output = installed.split('\n').filter((l) => l.startsWith('-A OUTPUT'));
  expect(output).toEqual(['-A OUTPUT -d 192.0.2.1/32 -j ACCEPT', '-A OUTPUT -m comment --comment lanyard-outbound -j LANYARD_OUTPUT']);

  const cleanup = await lanyard(['proxy-init', '--netns', ns, '--cleanup']);
  expect(cleanup.code).toBe(0);
  expect(cleanup.stderr).toMatch(/IPv4: removed/);
  expect(natTable(ns, save4)).toBe(before4);
  if (ipv6) expect(natTable(ns, save6)).toBe(before6);

  const again = await lanyard(['proxy-init', '--netns', ns, '--cleanup']);
  expect(again.code).toBe(0);
  expect(again.stdout).toBe('');
  expect(again.stderr).toMatch(/IPv4: nothing to remove/);
  expect(natTable(ns, save4)).toBe(before4);
}, 60_000);
