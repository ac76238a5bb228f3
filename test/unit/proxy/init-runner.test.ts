/**
 * runProxyInit against an in-memory netfilter: what it runs, what a dry run prints, and
 * that a failed install is rolled back. (The real thing, in a network namespace, is in
 * test/integration/proxy-init-*.)
 */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProxyInitConfig, type RawProxyInitConfig } from '../../../proxy/init/init-config.js';
import { ProxyInitError } from '../../../proxy/init/init-error.js';
import { IptablesExecutor, type CommandResult } from '../../../proxy/init/iptables.js';
import { splitSaveLine } from '../../../proxy/init/nat-plan.js';
import { runProxyInit } from '../../../proxy/init/proxy-init.js';

const ROOT_STATUS = 'CapEff:\t000001ffffffffff\n';

/** One nat table per binary family, changed by -N/-A/-D/-F/-X and printed by *-save. */
class FakeNetfilter {
  readonly tables = new Map<string, { chains: string[]; rules: string[] }>();
  readonly ran: string[] = [];
  failOn: RegExp | null = null;

  table(bin: string) {
    const key = bin.startsWith('ip6') ? 'v6' : 'v4';
    if (!this.tables.has(key)) this.tables.set(key, { chains: ['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING'], rules: [] });
    return this.tables.get(key)!;
  }

  save(bin: string): string {
    const t = this.table(bin);
    return ['# Generated', '*nat', ...t.chains.map((c) => `:${c} ${c === c.toUpperCase() && !c.includes('_') ? 'ACCEPT' : '-'} [0:0]`), ...t.rules, 'COMMIT', ''].join('\n');
  }

  async exec(argv: string[]): Promise<CommandResult> {
    const [bin, ...args] = argv;
    if (bin.endsWith('-save')) return { stdout: this.save(bin), stderr: '' };
    const line = argv.join(' ');
    this.ran.push(line);
    if (this.failOn?.test(line)) throw Object.assign(new Error('exit 1'), { code: 1, stderr: 'iptables: No chain/target/match by that name.' });
    const t = this.table(bin);
    const [, , op, chain, ...spec] = args;
    const rule = ['-A', chain, ...spec].join(' ');
    if (op === '-N') t.chains.push(chain);
    else if (op === '-A') t.rules.push(rule);
    else if (op === '-D') t.rules.splice(t.rules.indexOf(rule), 1);
    else if (op === '-F') t.rules = t.rules.filter((r) => splitSaveLine(r)[1] !== chain);
    else if (op === '-X') t.chains = t.chains.filter((c) => c !== chain);
    return { stdout: '', stderr: '' };
  }
}

let bin: string;
beforeAll(() => {
  bin = mkdtempSync(join(tmpdir(), 'lanyard-init-bin-'));
  for (const name of ['ip', 'iptables-nft', 'iptables-nft-save', 'ip6tables-nft', 'ip6tables-nft-save']) {
    writeFileSync(join(bin, name), '#!/bin/sh\nexit 1\n');
    chmodSync(join(bin, name), 0o755);
  }
});
afterAll(() => rmSync(bin, { recursive: true, force: true }));

async function run(net: FakeNetfilter, raw: RawProxyInitConfig, status = ROOT_STATUS) {
  const printed: string[] = [];
  const notes: string[] = [];
  const cfg = parseProxyInitConfig(raw);
  const executor = new IptablesExecutor({ netns: cfg.netns, path: bin, exec: (argv) => net.exec(argv) });
  const report = await runProxyInit(cfg, { executor, print: (l) => printed.push(l), note: (l) => notes.push(l), procStatus: () => status });
  return { report, printed, notes };
}

test('ok/install-then-second-run-changes-nothing-then-cleanup-restores', async () => {
  const net = new FakeNetfilter();
  net.table('iptables-nft').rules.push('-A OUTPUT -d 192.0.2.1/32 -j ACCEPT');
  const before = net.save('iptables-nft');
  const first = await run(net, {});
  expect(first.report.backend.name).toBe('nft');
  expect(first.report.results.map((r) => [r.family, r.status])).toEqual([[4, 'install'], [6, 'install']]);
  expect(first.printed).toEqual(net.ran);
  const afterFirst = [net.save('iptables-nft'), net.save('ip6tables-nft')];

  net.ran.length = 0;
  const second = await run(net, {});
  expect(second.report.results.map((r) => r.status)).toEqual(['up-to-date', 'up-to-date']);
  expect(net.ran).toEqual([]);
  expect([net.save('iptables-nft'), net.save('ip6tables-nft')]).toEqual(afterFirst);
  expect(second.notes.join('\n')).toContain('IPv4: already in place, nothing changed');

  await run(net, { cleanup: 'true' });
  expect(net.save('iptables-nft')).toBe(before);
});

test('ok/dry-run-prints-what-a-run-would-run-and-runs-nothing', async () => {
  const dry = await run(new FakeNetfilter(), { dryRun: 'true', ipv6: 'off' });
  const net = new FakeNetfilter();
  const wet = await run(net, { ipv6: 'off' });
  expect(dry.printed).toEqual(wet.printed);
  expect(dry.printed[0]).toBe('iptables-nft -t nat -N LANYARD_INBOUND_REDIRECT');
  expect(dry.notes.join('\n')).toContain('IPv4: would be installed');
});

test('ok/dry-run-without-privileges-shows-a-fresh-install', async () => {
  const net = new FakeNetfilter();
  const dry = await run(net, { dryRun: 'true' }, 'CapEff:\t0000000000000000\n');
  expect(net.ran).toEqual([]);
  expect(dry.printed).toHaveLength(26);
  expect(dry.notes[0]).toMatch(/dry run without CAP_NET_ADMIN/);
});

test('fail/not-permitted-names-the-capability-and-changes-nothing', async () => {
  const net = new FakeNetfilter();
  await expect(run(net, {}, 'CapEff:\t0000000000000000\n')).rejects.toMatchObject({ code: 'ERR_INIT_NOT_PERMITTED', message: expect.stringContaining('CAP_NET_ADMIN') });
  await expect(run(net, { netns: 'x' }, 'CapEff:\t0000000000001000\n')).rejects.toThrow(/missing capability CAP_SYS_ADMIN/);
  expect(net.ran).toEqual([]);
});

test('fail/ipv6-on-without-ip6tables', async () => {
  const net = new FakeNetfilter();
  const executor = new IptablesExecutor({ netns: null, path: bin, exec: (argv) => (argv[0].startsWith('ip6') ? Promise.reject(new Error('no ipv6')) : net.exec(argv)) });
  const go = (ipv6: string) => runProxyInit(parseProxyInitConfig({ ipv6 }), { executor, print: () => undefined, note: () => undefined, procStatus: () => ROOT_STATUS });
  await expect(go('on')).rejects.toMatchObject({ code: 'ERR_INIT_IPV6_UNAVAILABLE' });
  const auto = await go('auto');
  expect(auto.results.map((r) => r.family)).toEqual([4]);
});

test('fail/a-failed-install-is-rolled-back', async () => {
  const net = new FakeNetfilter();
  const before = [net.save('iptables-nft'), net.save('ip6tables-nft')];
  net.failOn = /^ip6tables-nft .* -A LANYARD_OUTPUT -o lo/;
  let err: unknown;
  try {
    await run(net, {});
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ProxyInitError);
  expect((err as ProxyInitError).code).toBe('ERR_INIT_COMMAND_FAILED');
  expect((err as Error).message).toMatch(/^ip6tables-nft -t nat -A LANYARD_OUTPUT -o lo .* failed: iptables: No chain\/target\/match by that name\. \(the rules written so far were removed again\)$/);
  expect([net.save('iptables-nft'), net.save('ip6tables-nft')]).toEqual(before);
});
