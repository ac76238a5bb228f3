/**
 * One grammar: a duration, address, integer or boolean means the same to every command,
 * flag and variable. Before, the CLI accepted `1d`, `1.5` and `:8080` and the proxy refused
 * all three, and `localhost:0` was accepted by one and refused by the other. Here the
 * CLI's option parsers and the proxy's variables are fed the same text and must agree, and
 * every refusal names the flag and its variable.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { parseProxyConfig, type ProxyConfig } from '../../../proxy/config.js';
import { parseProxyInitConfig } from '../../../proxy/init/init-config.js';
import { UsageError } from '../../../src/cli/cli-conventions.js';
import { buildProgram } from '../../../src/cli/program.js';

let program: Command;
let dir: string;
let base: Record<string, string>;
beforeAll(async () => {
  program = await buildProgram();
  dir = mkdtempSync(join(tmpdir(), 'lanyard-grammar-'));
  writeFileSync(join(dir, 'anchors.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
  base = { LANYARD_PROXY_TRUST_ANCHORS: join(dir, 'anchors.pem'), LANYARD_PROXY_LOCAL_IDENTITY: 'web.default.serviceaccount.identity.lanyard.cluster.local' };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function option(path: string, flag: string): Option {
  let cmd = program;
  for (const name of path.split(' ')) cmd = cmd.commands.find((c) => c.name() === name)!;
  const o = cmd.options.find((x) => x.long === flag);
  if (!o?.parseArg) throw new Error(`${path} ${flag}: no parser`);
  return o;
}

/** What the CLI makes of the text: the value, or the refusal. */
function cli(path: string, flag: string, text: string): { ok: unknown } | { error: string } {
  try {
    return { ok: option(path, flag).parseArg!(text, undefined) };
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return { error: (e as Error).message };
  }
}

function proxy<K extends keyof ProxyConfig>(variable: string, key: K, text: string): { ok: unknown } | { error: string } {
  try {
    return { ok: parseProxyConfig({ ...base, [variable]: text })[key] };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

const accepted = (r: { ok: unknown } | { error: string }) => ('ok' in r ? r.ok : 'refused');

test.each(['500ms', '10s', '1h30m', '1.5h', '1d', '2m0.5s', '1.5', '10', '10 s', '-1s', '1w', '10S', 'forever'])('duration %j: identity --kube-timeout and LANYARD_PROXY_CONNECT_TIMEOUT agree', (text) => {
  expect(accepted(cli('identity', '--kube-timeout', text))).toEqual(accepted(proxy('LANYARD_PROXY_CONNECT_TIMEOUT', 'connectTimeoutMs', text)));
});

test.each([':8080', 'localhost:0', '0.0.0.0:4143', '[::]:4143', '8080', '::1:80', 'localhost:65536', 'bad_host:1', '[1.2.3.4]:80'])(
  'listen address %j: identity --addr and LANYARD_PROXY_INBOUND_ADDR agree',
  (text) => {
    expect(accepted(cli('identity', '--addr', text))).toEqual(accepted(proxy('LANYARD_PROXY_INBOUND_ADDR', 'inbound', text)));
  },
);

test.each(['localhost:8080', '[::1]:8080', 'lanyard-identity.lanyard.svc:8080', 'localhost:0', ':8080', 'localhost', 'http://x:80'])(
  'dial address %j: certify --addr and LANYARD_PROXY_IDENTITY_ADDR agree',
  (text) => {
    const fromCli = accepted(cli('certify', '--addr', text));
    const fromProxy = accepted(proxy('LANYARD_PROXY_IDENTITY_ADDR', 'identityAddr', text));
    expect(fromCli === 'refused').toBe(fromProxy === 'refused');
  },
);

test.each(['1', '20', '0', '1.5', '1e3', '-1', ' 7 ', 'ten'])('integer %j: identity --kube-qps and LANYARD_PROXY_MAX_CONNECTIONS agree', (text) => {
  expect(accepted(cli('identity', '--kube-qps', text))).toEqual(accepted(proxy('LANYARD_PROXY_MAX_CONNECTIONS', 'maxConnections', text)));
});

test.each(['true', 'false', 'yes', 'no', 'on', 'off', '1', '0', 'TRUE', 'maybe'])('boolean %j: LANYARD_INIT_DRY_RUN and LANYARD_PROXY_MUX agree', (text) => {
  const init = (() => {
    try {
      return parseProxyInitConfig({ dryRun: text }).dryRun;
    } catch {
      return 'refused';
    }
  })();
  expect(init).toEqual(accepted(proxy('LANYARD_PROXY_MUX', 'multiplex', text)));
});

test('what used to differ now reads the same everywhere', () => {
  expect(accepted(cli('identity', '--lifetime', '1d'))).toBe(86_400_000);
  expect(accepted(proxy('LANYARD_PROXY_IDLE_TIMEOUT', 'idleTimeoutMs', '1d'))).toBe(86_400_000);
  expect(accepted(cli('identity', '--addr', ':8080'))).toEqual({ host: '0.0.0.0', port: 8080 });
  expect(accepted(proxy('LANYARD_PROXY_INBOUND_ADDR', 'inbound', ':8080'))).toEqual({ host: '0.0.0.0', port: 8080 });
  expect(accepted(cli('token mint', '--ttl', '1.5'))).toBe('refused');
});

test.each<[string, string, string, string]>([
  ['identity', '--addr', 'localhost', '--addr (env LANYARD_IDENTITY_ADDR): no port; '],
  ['identity', '--kube-timeout', '5', '--kube-timeout (env LANYARD_IDENTITY_KUBE_TIMEOUT): a number needs a unit'],
  ['identity', '--workers', 'many', '--workers (env LANYARD_IDENTITY_WORKERS): expected an integer from 1 to 1024'],
  ['certify', '--addr', ':8080', '--addr (env LANYARD_PROXY_IDENTITY_ADDR): a host is needed'],
  ['discovery', '--admin-addr', '9996', '--admin-addr (env LANYARD_DISCOVERY_ADMIN_ADDR): no port'],
  ['token mint', '--ttl', 'soon', '--ttl: unexpected "soon"'],
])('%s %s %j: the error names the flag and its variable', (path, flag, text, start) => {
  const r = cli(path, flag, text);
  expect('error' in r && r.error.startsWith(start)).toBe(true);
});

test('the proxy names the flag and the variable too', () => {
  expect(proxy('LANYARD_PROXY_DETECT_TIMEOUT', 'detectTimeoutMs', '10')).toEqual({
    error: expect.stringMatching(/^--detect-timeout \(env LANYARD_PROXY_DETECT_TIMEOUT\): a number needs a unit/),
  });
});
