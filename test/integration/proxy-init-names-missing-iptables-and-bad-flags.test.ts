/**
 * `lanyard proxy-init` fails with one line naming the problem: the missing binary and the
 * package that provides it, or the flag (or LANYARD_INIT_* variable) with the bad value.
 * Needs no privileges: every check here runs before any rule is read or written.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lanyard } from '../support/cli.js';

let emptyDir: string;
beforeAll(() => {
  emptyDir = mkdtempSync(join(tmpdir(), 'lanyard-no-bin-'));
});
afterAll(() => rmSync(emptyDir, { recursive: true, force: true }));

test.each<[string, string[], Record<string, string>, string]>([
  ['fail/iptables-missing', ['--dry-run'], { PATH: 'EMPTY' }, 'lanyard: iptables not found on PATH: install the package `iptables` (e.g. apt-get install iptables, apk add iptables)\n'],
  ['fail/iptables-nft-missing', ['--dry-run', '--iptables-mode', 'nft'], { PATH: 'EMPTY' }, 'lanyard: iptables-nft not found on PATH: install the package `iptables` (e.g. apt-get install iptables, apk add iptables)\n'],
  ['fail/ip-missing-for-netns', ['--dry-run', '--netns', 'lanyard-t-none'], { PATH: 'EMPTY' }, 'lanyard: ip not found on PATH: install the package `iproute2` (e.g. apt-get install iproute2, apk add iproute2)\n'],
  ['fail/bad-port', ['--inbound-port', '70000'], {}, 'lanyard: --inbound-port: expected a TCP port 1-65535, got "70000"\n'],
  ['fail/bad-port-list', ['--outbound-ports-to-ignore', '25,smtp'], {}, 'lanyard: --outbound-ports-to-ignore: expected TCP ports 1-65535 such as 25,587,6000-6010 ("smtp" is not one), got "25,smtp"\n'],
  ['fail/bad-subnet-from-env', [], { LANYARD_INIT_SUBNETS_TO_IGNORE: '10.0.0.1/8' }, 'lanyard: LANYARD_INIT_SUBNETS_TO_IGNORE: "10.0.0.1/8" is not a CIDR: host bits are set (did you mean 10.0.0.0/8?)\n'],
  ['fail/flag-wins-over-env-and-is-named', ['--proxy-uid', 'proxy'], { LANYARD_INIT_PROXY_UID: '2102' }, 'lanyard: --proxy-uid: expected a numeric id 0-4294967294, got "proxy"\n'],
  ['fail/bad-mode', ['--iptables-mode', 'nftables'], {}, 'lanyard: --iptables-mode: expected auto, nft, legacy, got "nftables"\n'],
  ['fail/same-ports', ['--outbound-port', '4143'], {}, 'lanyard: --outbound-port: must differ from --inbound-port (both 4143)\n'],
])('%s', async (_name, args, env, stderr) => {
  const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === 'EMPTY' ? emptyDir : v]));
  const r = await lanyard(['proxy-init', ...args], resolved);
  // The error is the last line (a dry run without privileges says so first).
  expect({ code: r.code, stdout: r.stdout, lastLine: r.stderr.slice(-stderr.length) }).toEqual({ code: 1, stdout: '', lastLine: stderr });
});
