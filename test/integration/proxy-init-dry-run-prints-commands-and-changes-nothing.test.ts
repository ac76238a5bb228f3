/**
 * `lanyard proxy-init --dry-run` prints the exact commands, one per line, and changes
 * nothing; a real run then prints (and runs) the very same lines. Flags can come from
 * LANYARD_INIT_* variables.
 */
import { lanyard } from '../support/cli.js';
import { NetnsSet, needsNetns, natTable, saveToolFrom, setUp } from './proxy-init-support.js';

const spaces = new NetnsSet();
afterAll(() => spaces.deleteAll());

needsNetns().test('dry run prints the commands a real run then runs, and touches nothing', async () => {
  const [ns] = setUp(spaces, ['dry']);
  const env = { LANYARD_INIT_NETNS: ns, LANYARD_INIT_OUTBOUND_PORTS_TO_IGNORE: '3306', LANYARD_INIT_IPV6: 'off' };
  const dry = await lanyard(['proxy-init', '--dry-run'], env);
  expect(dry.code).toBe(0);
  const save4 = saveToolFrom(dry.stderr);
  const before = natTable(ns, save4);
  expect(before).not.toContain('LANYARD');
  expect(dry.stderr).toMatch(/IPv4: would be installed/);

  const lines = dry.stdout.trim().split('\n');
  const ipt = save4.replace('-save', '');
  expect(lines).toHaveLength(14);
  for (const line of lines) expect(line.startsWith(`ip netns exec ${ns} ${ipt} -t nat `)).toBe(true);
  expect(lines).toContain(`ip netns exec ${ns} ${ipt} -t nat -A LANYARD_OUTPUT -p tcp -m multiport --dports 3306 -m comment --comment lanyard-skip-outbound-ports -j RETURN`);
  expect(lines.slice(-2)).toEqual([
    `ip netns exec ${ns} ${ipt} -t nat -A PREROUTING -m comment --comment lanyard-inbound -j LANYARD_PREROUTING`,
    `ip netns exec ${ns} ${ipt} -t nat -A OUTPUT -m comment --comment lanyard-outbound -j LANYARD_OUTPUT`,
  ]);
  expect(natTable(ns, save4)).toBe(before);

  const real = await lanyard(['proxy-init'], env);
  expect(real.code).toBe(0);
  expect(real.stdout).toBe(dry.stdout);
  expect(natTable(ns, save4)).not.toBe(before);

  // Once installed, a dry run has nothing to do.
  const dryAgain = await lanyard(['proxy-init', '--dry-run'], env);
  expect(dryAgain.stdout).toBe('');
  expect(dryAgain.stderr).toMatch(/IPv4: already in place, nothing to do/);
  // And a dry cleanup lists the removals without making them.
  const installed = natTable(ns, save4);
  const dryCleanup = await lanyard(['proxy-init', '--dry-run', '--cleanup'], env);
  expect(dryCleanup.stdout.trim().split('\n')).toHaveLength(10);
  expect(natTable(ns, save4)).toBe(installed);
}, 60_000);
