/**
 * `lanyard proxy` with a bad setting stops at once, before listening or calling the
 * identity service, with exit code 2 (a usage error) and one line that names the flag, the
 * variable and what is wrong: a bad manifest fails at deploy time, not on the first
 * connection. Values are read with src/util's grammar, as every `lanyard` flag is.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flagFor } from '../../src/cli/proxy.js';
import { lanyard } from '../support/cli.js';
import { createTestPki } from '../support/test-ca.js';

let dir: string;
let base: Record<string, string>;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-proxy-config-'));
  const pki = await createTestPki();
  writeFileSync(join(dir, 'anchors.pem'), pki.anchor.certPem);
  writeFileSync(join(dir, 'not-pem.txt'), 'no certificate here\n');
  writeFileSync(join(dir, 'token'), 'x.y.z\n');
  base = {
    LANYARD_PROXY_TRUST_ANCHORS: join(dir, 'anchors.pem'),
    LANYARD_PROXY_LOCAL_IDENTITY: 'web.default.serviceaccount.identity.lanyard.cluster.local',
    LANYARD_PROXY_TOKEN_FILE: join(dir, 'token'),
    // Never reached: every case must fail before the first Certify.
    LANYARD_PROXY_IDENTITY_ADDR: '127.0.0.1:1',
    LANYARD_PROXY_INBOUND_ADDR: '127.0.0.1:0',
    LANYARD_PROXY_OUTBOUND_ADDR: '127.0.0.1:0',
    LANYARD_PROXY_ADMIN_ADDR: '127.0.0.1:0',
  };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROUTE = { listen: '127.0.0.1:0', upstream: '127.0.0.1:4143', identity: 'api.default.serviceaccount.identity.lanyard.cluster.local' };

// [case, variable, value (undefined: unset), expected message after "lanyard: <flag> (env <VARIABLE>): "]
const CASES: [string, string, string | undefined, RegExp][] = [
  ['fail/anchors-missing', 'LANYARD_PROXY_TRUST_ANCHORS', undefined, /^required \(trust anchors: PEM text or a file path/],
  ['fail/anchors-not-a-file', 'LANYARD_PROXY_TRUST_ANCHORS', '/nonexistent/ca.crt', /^neither PEM text nor an existing file: \/nonexistent\/ca\.crt$/],
  ['fail/anchors-not-pem', 'LANYARD_PROXY_TRUST_ANCHORS', '<dir>/not-pem.txt', /^<dir>\/not-pem\.txt holds no PEM certificate$/],
  ['fail/inbound-addr', 'LANYARD_PROXY_INBOUND_ADDR', 'localhost', /^no port; expected a listen address host:port such as 0\.0\.0\.0:4143, :4143 or \[::\]:4143, got "localhost"$/],
  ['fail/inbound-port-range', 'LANYARD_PROXY_INBOUND_ADDR', '127.0.0.1:70000', /^port above 65535; .*got "127\.0\.0\.1:70000"$/],
  ['fail/identity-addr-port-zero', 'LANYARD_PROXY_IDENTITY_ADDR', 'localhost:0', /^port 0 can only be listened on; /],
  ['fail/local-identity-missing', 'LANYARD_PROXY_LOCAL_IDENTITY', undefined, /^required \(this workload's identity/],
  ['fail/local-identity', 'LANYARD_PROXY_LOCAL_IDENTITY', 'web.default.svc.cluster.local', /^"web\.default\.svc\.cluster\.local" is not a workload identity; expected <sa>\.<ns>\.serviceaccount\.identity\.lanyard\.cluster\.local$/],
  ['fail/default-policy', 'LANYARD_PROXY_DEFAULT_POLICY', 'allow-all', /^expected one of all-unauthenticated, all-authenticated, cluster-authenticated, cluster-unauthenticated, deny, audit, got "allow-all"$/],
  ['fail/routes-json', 'LANYARD_PROXY_ROUTES', '[{"listen": "127.0.0.1:0",', /^not valid YAML or JSON: /],
  ['fail/routes-not-a-list', 'LANYARD_PROXY_ROUTES', '{"listen": "127.0.0.1:0"}', /^expected a list of routes or \{ routes: \[\.\.\.\] \}$/],
  ['fail/routes-unknown-key', 'LANYARD_PROXY_ROUTES', JSON.stringify([{ ...ROUTE, port: 80 }]), /^routes\[0\]: unknown key "port" \(expected listen, destination, upstream, identity, unmeshed\)$/],
  ['fail/routes-no-identity', 'LANYARD_PROXY_ROUTES', JSON.stringify([{ listen: '127.0.0.1:0', upstream: '127.0.0.1:4143' }]), /^routes\[0\]\.identity: expected the upstream's workload identity \(a DNS name\), or "unmeshed: true"$/],
  ['fail/routes-upstream', 'LANYARD_PROXY_ROUTES', JSON.stringify([{ ...ROUTE, upstream: ':4143' }]), /^routes\[0\]\.upstream: a host is needed to connect to; /],
  ['fail/routes-file-missing', 'LANYARD_PROXY_ROUTES_FILE', '/nonexistent/routes.yaml', /^cannot read \/nonexistent\/routes\.yaml: ENOENT$/],
  ['fail/duration', 'LANYARD_PROXY_DETECT_TIMEOUT', '10 seconds', /^unexpected "10 seconds"; expected a duration such as 500ms, 10s, 1h30m or 30d, got "10 seconds"$/],
  ['fail/duration-bare-number', 'LANYARD_PROXY_MIN_REFRESH', '5', /^a number needs a unit \(ms, s, m, h or d\); /],
  ['fail/max-connections', 'LANYARD_PROXY_MAX_CONNECTIONS', '0', /^expected an integer at least 1, got "0"$/],
  ['fail/app-port', 'LANYARD_PROXY_APP_PORT', 'http', /^expected a TCP port from 1 to 65535, got "http"$/],
  ['fail/unmeshed', 'LANYARD_PROXY_OUTBOUND_UNMESHED', 'maybe', /^expected one of allow, deny, got "maybe"$/],
  ['fail/transparent', 'LANYARD_PROXY_TRANSPARENT', 'maybe', /^expected true or false, got "maybe"$/],
  ['fail/policy-file-missing', 'LANYARD_PROXY_POLICY_FILE', '/nonexistent/policy.yaml', /^\/nonexistent\/policy\.yaml does not exist$/],
  ['fail/cluster-networks', 'LANYARD_PROXY_CLUSTER_NETWORKS', '10.0.0.0/8,10.1.2.3/33', /^\[1\]: "10\.1\.2\.3\/33" is not a CIDR$/],
];

const prefixOf = (variable: string) => `lanyard: ${flagFor(variable)} (env ${variable}): `;

test('the base configuration is valid (so each case fails for its one bad value)', async () => {
  // A valid configuration gets past parsing and waits for the (absent) identity service;
  // parse it in-process instead of starting a proxy.
  const { parseProxyConfig } = await import('../../proxy/config.js');
  expect(() => parseProxyConfig(base)).not.toThrow();
});

async function expectUsageError(args: string[], env: Record<string, string | undefined>, variable: string, message: RegExp): Promise<void> {
  const res = await lanyard(['proxy', ...args], env);
  expect(res.code).toBe(2);
  expect(res.stdout).toBe(''); // not a single log line: nothing was started
  const line = res.stderr.trimEnd().split('\n')[0];
  expect(line.slice(0, prefixOf(variable).length)).toBe(prefixOf(variable));
  expect(line.slice(prefixOf(variable).length).replaceAll(dir, '<dir>')).toMatch(message);
  expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
}

test.each(CASES)('%s: exits 2 naming %s and its flag', async (_name, variable, value, message) => {
  const env: Record<string, string | undefined> = { ...base, [variable]: value?.replace('<dir>', dir) };
  if (value === undefined) env[variable] = '';
  await expectUsageError([], env, variable, message);
});

test.each<[string, string[], string, RegExp]>([
  ['fail/flag-address', ['--inbound-addr', 'localhost'], 'LANYARD_PROXY_INBOUND_ADDR', /^no port; /],
  ['fail/flag-duration', ['--connect-timeout', '1.5'], 'LANYARD_PROXY_CONNECT_TIMEOUT', /^a number needs a unit/],
  ['fail/flag-wins-over-a-good-variable', ['--app-port', '0'], 'LANYARD_PROXY_APP_PORT', /^expected a TCP port from 1 to 65535, got "0"$/],
])('%s: a bad flag is named the same way', async (_name, args, variable, message) => {
  await expectUsageError(args, { ...base, LANYARD_PROXY_APP_PORT: '8080' }, variable, message);
});

test('fail/unknown-flag exits 2', async () => {
  const res = await lanyard(['proxy', '--inbound-address', '127.0.0.1:0'], base);
  expect(res.code).toBe(2);
  expect(res.stderr).toMatch(/^error: unknown option '--inbound-address'/);
});
