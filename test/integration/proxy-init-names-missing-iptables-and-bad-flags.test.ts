/**
 * `lanyard proxy-init` fails with one line naming the problem: the missing binary and the
 * package that provides it (exit 1, the operation failed), or the flag and its
 * LANYARD_INIT_* variable with the bad value (exit 2, a usage error). Needs no privileges:
 * every check here runs before any rule is read or written.
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

test.each<[string, string[], Record<string, string>, number, string]>([
  ['fail/iptables-missing', ['--dry-run'], { PATH: 'EMPTY' }, 1, 'lanyard: iptables not found on PATH: install the package `iptables` (e.g. apt-get install iptables, apk add iptables)\n'],
  ['fail/iptables-nft-missing', ['--dry-run', '--iptables-mode', 'nft'], { PATH: 'EMPTY' }, 1, 'lanyard: iptables-nft not found on PATH: install the package `iptables` (e.g. apt-get install iptables, apk add iptables)\n'],
  ['fail/ip-missing-for-netns', ['--dry-run', '--netns', 'lanyard-t-none'], { PATH: 'EMPTY' }, 1, 'lanyard: ip not found on PATH: install the package `iproute2` (e.g. apt-get install iproute2, apk add iproute2)\n'],
  ['fail/bad-port', ['--inbound-port', '70000'], {}, 2, 'lanyard: --inbound-port (env LANYARD_INIT_INBOUND_PORT): expected a TCP port from 1 to 65535, got "70000"\n'],
  [
    'fail/bad-port-list',
    ['--outbound-ports-to-ignore', '25,smtp'],
    {},
    2,
    'lanyard: --outbound-ports-to-ignore (env LANYARD_INIT_OUTBOUND_PORTS_TO_IGNORE): expected TCP ports 1-65535 such as 25,587,6000-6010 ("smtp" is not one), got "25,smtp"\n',
  ],
  [
    'fail/bad-subnet-from-env',
    [],
    { LANYARD_INIT_SUBNETS_TO_IGNORE: '10.0.0.1/8' },
    2,
    'lanyard: --subnets-to-ignore (env LANYARD_INIT_SUBNETS_TO_IGNORE): "10.0.0.1/8" is not a CIDR: host bits are set (did you mean 10.0.0.0/8?)\n',
  ],
  ['fail/flag-wins-over-env', ['--proxy-uid', 'proxy'], { LANYARD_INIT_PROXY_UID: '2102' }, 2, 'lanyard: --proxy-uid (env LANYARD_INIT_PROXY_UID): expected an integer from 0 to 4294967294, got "proxy"\n'],
  ['fail/bad-boolean-from-env', [], { LANYARD_INIT_DRY_RUN: 'perhaps' }, 2, 'lanyard: --dry-run (env LANYARD_INIT_DRY_RUN): expected true or false, got "perhaps"\n'],
  ['fail/bad-mode', ['--iptables-mode', 'nftables'], {}, 2, 'lanyard: --iptables-mode (env LANYARD_INIT_IPTABLES_MODE): expected one of auto, nft, legacy, got "nftables"\n'],
  ['fail/same-ports', ['--outbound-port', '4143'], {}, 2, 'lanyard: --outbound-port (env LANYARD_INIT_OUTBOUND_PORT): must differ from --inbound-port (env LANYARD_INIT_INBOUND_PORT) (both 4143)\n'],
])('%s', async (_name, args, env, code, stderr) => {
  const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === 'EMPTY' ? emptyDir : v]));
  const r = await lanyard(['proxy-init', ...args], resolved);
  // The error is the last line (a dry run without privileges says so first).
  expect({ code: r.code, stdout: r.stdout, lastLine: r.stderr.slice(-stderr.length) }).toEqual({ code, stdout: '', lastLine: stderr });
});
