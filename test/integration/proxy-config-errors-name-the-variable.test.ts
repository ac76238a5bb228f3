/**
 * `lanyard proxy` with a bad setting stops at once, before listening or calling the
 * identity service, with exit code 1 and one line that names the variable and what is
 * wrong: a bad manifest fails at deploy time, not on the first connection.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

// [case, variable, value (undefined: unset), expected message after "lanyard: <VARIABLE>: "]
const CASES: [string, string, string | undefined, RegExp][] = [
  ['fail/anchors-missing', 'LANYARD_PROXY_TRUST_ANCHORS', undefined, /^required \(trust anchors: PEM text or a file path/],
  ['fail/anchors-not-a-file', 'LANYARD_PROXY_TRUST_ANCHORS', '/nonexistent/ca.crt', /^neither PEM text nor an existing file: \/nonexistent\/ca\.crt$/],
  ['fail/anchors-not-pem', 'LANYARD_PROXY_TRUST_ANCHORS', '<dir>/not-pem.txt', /^<dir>\/not-pem\.txt holds no PEM certificate$/],
  ['fail/inbound-addr', 'LANYARD_PROXY_INBOUND_ADDR', 'localhost', /^expected HOST:PORT, got "localhost"$/],
  ['fail/inbound-port-range', 'LANYARD_PROXY_INBOUND_ADDR', '127.0.0.1:70000', /^expected HOST:PORT, got "127\.0\.0\.1:70000"$/],
  ['fail/local-identity-missing', 'LANYARD_PROXY_LOCAL_IDENTITY', undefined, /^required \(this workload's identity/],
  ['fail/local-identity', 'LANYARD_PROXY_LOCAL_IDENTITY', 'web.default.svc.cluster.local', /^"web\.default\.svc\.cluster\.local" is not a workload identity; expected <sa>\.<ns>\.serviceaccount\.identity\.lanyard\.cluster\.local$/],
  ['fail/default-policy', 'LANYARD_PROXY_DEFAULT_POLICY', 'allow-all', /^"allow-all" is not a policy \(expected one of all-unauthenticated, all-authenticated, cluster-authenticated, cluster-unauthenticated, deny, audit\)$/],
  ['fail/routes-json', 'LANYARD_PROXY_ROUTES', '[{"listen": "127.0.0.1:0",', /^not valid YAML or JSON: /],
  ['fail/routes-not-a-list', 'LANYARD_PROXY_ROUTES', '{"listen": "127.0.0.1:0"}', /^expected a list of routes or \{ routes: \[\.\.\.\] \}$/],
  ['fail/routes-unknown-key', 'LANYARD_PROXY_ROUTES', JSON.stringify([{ ...ROUTE, port: 80 }]), /^routes\[0\]: unknown key "port" \(expected listen, destination, upstream, identity, unmeshed\)$/],
  ['fail/routes-no-identity', 'LANYARD_PROXY_ROUTES', JSON.stringify([{ listen: '127.0.0.1:0', upstream: '127.0.0.1:4143' }]), /^routes\[0\]\.identity: expected the upstream's workload identity \(a DNS name\), or "unmeshed: true"$/],
  ['fail/routes-file-missing', 'LANYARD_PROXY_ROUTES_FILE', '/nonexistent/routes.yaml', /^cannot read \/nonexistent\/routes\.yaml: ENOENT$/],
  ['fail/duration', 'LANYARD_PROXY_DETECT_TIMEOUT', '10 seconds', /^expected a duration such as 500ms, 10s or 1h, got "10 seconds"$/],
  ['fail/duration-unit', 'LANYARD_PROXY_MIN_REFRESH', '5d', /^expected a duration such as 500ms, 10s or 1h, got "5d"$/],
  ['fail/max-connections', 'LANYARD_PROXY_MAX_CONNECTIONS', '0', /^expected a positive integer, got "0"$/],
  ['fail/app-port', 'LANYARD_PROXY_APP_PORT', 'http', /^expected a port number, got "http"$/],
  ['fail/unmeshed', 'LANYARD_PROXY_OUTBOUND_UNMESHED', 'maybe', /^expected allow or deny, got "maybe"$/],
  ['fail/policy-file-missing', 'LANYARD_PROXY_POLICY_FILE', '/nonexistent/policy.yaml', /^\/nonexistent\/policy\.yaml does not exist$/],
  ['fail/cluster-networks', 'LANYARD_PROXY_CLUSTER_NETWORKS', '10.0.0.0/8,10.1.2.3/33', /^"10\.1\.2\.3\/33" is not a CIDR$/],
];

test('the base configuration is valid (so each case fails for its one bad value)', async () => {
  // A valid configuration gets past parsing and waits for the (absent) identity service;
  // parse it in-process instead of starting a proxy.
  const { parseProxyConfig } = await import('../../proxy/config.js');
  expect(() => parseProxyConfig(base)).not.toThrow();
});

test.each(CASES)('%s: exits 1 naming %s', async (_name, variable, value, message) => {
  const env: Record<string, string | undefined> = { ...base, [variable]: value?.replace('<dir>', dir) };
  if (value === undefined) env[variable] = '';
  const res = await lanyard(['proxy'], env);
  expect(res.code).toBe(1);
  expect(res.stdout).toBe(''); // not a single log line: nothing was started
  const line = res.stderr.trimEnd();
  expect(line.split('\n')[0]).toMatch(new RegExp(`^lanyard: ${variable}(\\[\\d+\\])?: `));
  const detail = line.slice(line.indexOf(': ', 'lanyard: '.length) + 2);
  expect(detail.replaceAll(dir, '<dir>')).toMatch(message);
  expect(res.stderr).not.toMatch(/\n\s+at /); // no stack trace
});
