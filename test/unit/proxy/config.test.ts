/**
 * parseProxyConfig: every LANYARD_PROXY_* value is checked at start-up with src/util's
 * grammar (the same one every `lanyard` flag uses), defaults are filled in, and every error
 * names the variable and its flag.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseProxyConfig, proxySource, ProxyConfigError } from '../../../proxy/config.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const API = 'api.default.serviceaccount.identity.lanyard.cluster.local';
// Only the PEM armour matters to the config (the anchors are parsed by the TLS layer).
const PEM = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

let dir: string;
let base: Record<string, string>;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-proxy-config-unit-'));
  writeFileSync(join(dir, 'anchors.pem'), PEM);
  writeFileSync(join(dir, 'empty.pem'), '');
  writeFileSync(join(dir, 'routes.yaml'), `- listen: 127.0.0.1:4150\n  upstream: 127.0.0.1:5432\n  unmeshed: true\n`);
  writeFileSync(join(dir, 'policy.yaml'), 'default: deny\n');
  base = { LANYARD_PROXY_TRUST_ANCHORS: join(dir, 'anchors.pem'), LANYARD_PROXY_LOCAL_IDENTITY: WEB };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const parse = (env: Record<string, string | undefined>) => parseProxyConfig({ ...base, ...env });

describe('ok', () => {
  test('ok/defaults', () => {
    expect(parse({})).toMatchObject({
      identityAddr: '127.0.0.1:8080',
      identityName: 'lanyard-identity.lanyard.serviceaccount.identity.lanyard.cluster.local',
      tokenFile: '/var/run/secrets/tokens/lanyard-identity-token',
      trustAnchorsPem: PEM,
      trustAnchorsFile: join(dir, 'anchors.pem'),
      localIdentity: WEB,
      identityDir: null,
      inbound: { host: '0.0.0.0', port: 4143 },
      outbound: { host: '127.0.0.1', port: 4140 },
      admin: { host: '0.0.0.0', port: 4191 },
      appPort: null,
      routes: [],
      routesFile: null,
      unmeshed: 'allow',
      policyFile: null,
      detectTimeoutMs: 10_000,
      handshakeTimeoutMs: 10_000,
      connectTimeoutMs: 5000,
      idleTimeoutMs: 3_600_000,
      maxConnections: 10_000,
      minRefreshMs: 10_000,
      logLevel: 'info',
    });
  });

  test('ok/empty-or-blank-values-mean-the-default', () => {
    const cfg = parse({ LANYARD_PROXY_INBOUND_ADDR: '', LANYARD_PROXY_DETECT_TIMEOUT: '   ', LANYARD_PROXY_APP_PORT: '' });
    expect(cfg).toMatchObject({ inbound: { host: '0.0.0.0', port: 4143 }, detectTimeoutMs: 10_000, appPort: null });
  });

  test('ok/values-are-trimmed', () => {
    expect(parse({ LANYARD_PROXY_APP_PORT: ' 8080 ', LANYARD_PROXY_OUTBOUND_UNMESHED: 'deny\n' })).toMatchObject({ appPort: 8080, unmeshed: 'deny' });
  });

  test('ok/anchors-inline-pem-with-escaped-newlines (as in a one-line manifest value)', () => {
    const cfg = parse({ LANYARD_PROXY_TRUST_ANCHORS: PEM.replace(/\n/g, '\\n') });
    expect(cfg).toMatchObject({ trustAnchorsPem: PEM, trustAnchorsFile: null });
  });

  test('ok/trust-domain-and-control-namespace-shape-the-names', () => {
    const cfg = parse({ LANYARD_TRUST_DOMAIN: 'example.org', LANYARD_CONTROL_NAMESPACE: 'mesh', LANYARD_PROXY_LOCAL_IDENTITY: 'web.shop.serviceaccount.identity.mesh.example.org' });
    expect(cfg.identityName).toBe('lanyard-identity.mesh.serviceaccount.identity.mesh.example.org');
    expect(cfg.localIdentity).toBe('web.shop.serviceaccount.identity.mesh.example.org');
  });

  test('ok/explicit-identity-name', () => {
    expect(parse({ LANYARD_PROXY_IDENTITY_NAME: 'identity.example.org' }).identityName).toBe('identity.example.org');
  });

  test('ok/addresses, ports and limits', () => {
    const cfg = parse({
      LANYARD_PROXY_IDENTITY_ADDR: 'lanyard-identity.lanyard.svc:8080',
      LANYARD_PROXY_INBOUND_ADDR: '[::]:0',
      LANYARD_PROXY_ADMIN_ADDR: '127.0.0.1:0',
      LANYARD_PROXY_APP_PORT: '65535',
      LANYARD_PROXY_MAX_CONNECTIONS: '1',
    });
    expect(cfg).toMatchObject({ identityAddr: 'lanyard-identity.lanyard.svc:8080', inbound: { host: '::', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, appPort: 65535, maxConnections: 1 });
  });

  test('ok/routes-from-file-then-inline', () => {
    const cfg = parse({
      LANYARD_PROXY_ROUTES_FILE: join(dir, 'routes.yaml'),
      LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:4140', upstream: '127.0.0.1:4143', identity: API }]),
    });
    expect(cfg.routesFile).toBe(join(dir, 'routes.yaml'));
    expect(cfg.routes.map((r) => [r.name, r.identity])).toEqual([
      ['route:127.0.0.1:4150', null],
      ['route:127.0.0.1:4140', API],
    ]);
  });

  test('ok/policy-file-that-exists', () => {
    expect(parse({ LANYARD_PROXY_POLICY_FILE: join(dir, 'policy.yaml') }).policyFile).toBe(join(dir, 'policy.yaml'));
  });

  test('ok/durations', () => {
    const cfg = parse({
      LANYARD_PROXY_DETECT_TIMEOUT: '500ms',
      LANYARD_PROXY_HANDSHAKE_TIMEOUT: '1.5s',
      LANYARD_PROXY_CONNECT_TIMEOUT: '2s',
      LANYARD_PROXY_IDLE_TIMEOUT: '1d',
      LANYARD_PROXY_MIN_REFRESH: '1m30s',
      LANYARD_PROXY_SHUTDOWN_GRACE: '0',
    });
    expect(cfg).toMatchObject({ detectTimeoutMs: 500, handshakeTimeoutMs: 1500, connectTimeoutMs: 2000, idleTimeoutMs: 86_400_000, minRefreshMs: 90_000, shutdownGraceMs: 0 });
  });

  // What the CLI accepted and the proxy refused before they shared one grammar.
  test('ok/listen-addresses-as-every-command-reads-them', () => {
    const cfg = parse({ LANYARD_PROXY_INBOUND_ADDR: ':4143', LANYARD_PROXY_OUTBOUND_ADDR: 'localhost:0', LANYARD_PROXY_IDENTITY_ADDR: 'localhost:8080' });
    expect(cfg).toMatchObject({ inbound: { host: '0.0.0.0', port: 4143 }, outbound: { host: 'localhost', port: 0 }, identityAddr: 'localhost:8080' });
  });

  test('ok/booleans', () => {
    expect(parse({ LANYARD_PROXY_MUX: 'off', LANYARD_PROXY_TRANSPARENT: 'no' })).toMatchObject({ multiplex: false, transparent: false });
    expect(parse({ LANYARD_PROXY_MUX: 'YES' }).multiplex).toBe(true);
  });
});

describe('flags', () => {
  test('a variable\'s flag drops the prefix; a boolean that defaults to true is turned off with --no-', () => {
    expect(proxySource('LANYARD_PROXY_INBOUND_ADDR')).toBe('--inbound-addr (env LANYARD_PROXY_INBOUND_ADDR)');
    expect(proxySource('LANYARD_TRUST_DOMAIN')).toBe('--trust-domain (env LANYARD_TRUST_DOMAIN)');
    expect(proxySource('LANYARD_PROXY_MUX')).toBe('--no-mux (env LANYARD_PROXY_MUX)');
    expect(proxySource('LANYARD_PROXY_TRANSPARENT')).toBe('--transparent (env LANYARD_PROXY_TRANSPARENT)');
  });
});

describe('errors name the variable and its flag', () => {
  const DUR = /^(a number needs a unit|unexpected) .*; expected a duration such as 500ms, 10s, 1h30m or 30d, got /;
  test.each<[string, Record<string, string | undefined>, string, string | RegExp]>([
    ['fail/anchors-missing', { LANYARD_PROXY_TRUST_ANCHORS: undefined }, 'LANYARD_PROXY_TRUST_ANCHORS', 'required (trust anchors: PEM text or a file path (a file is reloaded when it changes); required)'],
    ['fail/anchors-blank', { LANYARD_PROXY_TRUST_ANCHORS: '  ' }, 'LANYARD_PROXY_TRUST_ANCHORS', 'required (trust anchors: PEM text or a file path (a file is reloaded when it changes); required)'],
    ['fail/anchors-no-such-file', { LANYARD_PROXY_TRUST_ANCHORS: '/nonexistent/ca.crt' }, 'LANYARD_PROXY_TRUST_ANCHORS', 'neither PEM text nor an existing file: /nonexistent/ca.crt'],
    ['fail/anchors-file-without-pem', { LANYARD_PROXY_TRUST_ANCHORS: '<dir>/empty.pem' }, 'LANYARD_PROXY_TRUST_ANCHORS', '<dir>/empty.pem holds no PEM certificate'],
    ['fail/local-identity-missing', { LANYARD_PROXY_LOCAL_IDENTITY: undefined }, 'LANYARD_PROXY_LOCAL_IDENTITY', "required (this workload's identity, <sa>.<ns>.serviceaccount.identity.<control-ns>.<td>; required)"],
    ['fail/local-identity-short', { LANYARD_PROXY_LOCAL_IDENTITY: 'web' }, 'LANYARD_PROXY_LOCAL_IDENTITY', '"web" is not a workload identity; expected <sa>.<ns>.serviceaccount.identity.lanyard.cluster.local'],
    [
      'fail/local-identity-spiffe',
      { LANYARD_PROXY_LOCAL_IDENTITY: 'spiffe://cluster.local/ns/default/sa/web' },
      'LANYARD_PROXY_LOCAL_IDENTITY',
      '"spiffe://cluster.local/ns/default/sa/web" is not a workload identity; expected <sa>.<ns>.serviceaccount.identity.lanyard.cluster.local',
    ],
    [
      'fail/local-identity-other-trust-domain',
      { LANYARD_PROXY_LOCAL_IDENTITY: 'web.default.serviceaccount.identity.lanyard.example.org' },
      'LANYARD_PROXY_LOCAL_IDENTITY',
      '"web.default.serviceaccount.identity.lanyard.example.org" is not a workload identity; expected <sa>.<ns>.serviceaccount.identity.lanyard.cluster.local',
    ],
    ['fail/trust-domain', { LANYARD_TRUST_DOMAIN: 'Cluster.Local' }, 'LANYARD_TRUST_DOMAIN', 'trust domain "Cluster.Local" is not a DNS name of lower-case labels'],
    ['fail/identity-name', { LANYARD_PROXY_IDENTITY_NAME: 'not a name' }, 'LANYARD_PROXY_IDENTITY_NAME', '"not a name" is not a DNS name'],
    ['fail/identity-addr', { LANYARD_PROXY_IDENTITY_ADDR: 'lanyard-identity' }, 'LANYARD_PROXY_IDENTITY_ADDR', /^no port; expected an address host:port .*, got "lanyard-identity"$/],
    ['fail/identity-addr-port-zero', { LANYARD_PROXY_IDENTITY_ADDR: '127.0.0.1:0' }, 'LANYARD_PROXY_IDENTITY_ADDR', /^port 0 can only be listened on; /],
    ['fail/identity-addr-without-host', { LANYARD_PROXY_IDENTITY_ADDR: ':8080' }, 'LANYARD_PROXY_IDENTITY_ADDR', /^a host is needed to connect to; /],
    ['fail/discovery-addr', { LANYARD_PROXY_DISCOVERY_ADDR: 'discovery' }, 'LANYARD_PROXY_DISCOVERY_ADDR', /^no port; /],
    ['fail/inbound-addr', { LANYARD_PROXY_INBOUND_ADDR: '4143' }, 'LANYARD_PROXY_INBOUND_ADDR', /^no port; expected a listen address host:port such as 0\.0\.0\.0:4143, :4143 or \[::\]:4143, got "4143"$/],
    ['fail/outbound-addr', { LANYARD_PROXY_OUTBOUND_ADDR: '127.0.0.1:65536' }, 'LANYARD_PROXY_OUTBOUND_ADDR', /^port above 65535; /],
    ['fail/admin-addr', { LANYARD_PROXY_ADMIN_ADDR: '::1:4191' }, 'LANYARD_PROXY_ADMIN_ADDR', /^an IPv6 address needs brackets; /],
    ['fail/app-port-zero', { LANYARD_PROXY_APP_PORT: '0' }, 'LANYARD_PROXY_APP_PORT', 'expected a TCP port from 1 to 65535, got "0"'],
    ['fail/app-port-name', { LANYARD_PROXY_APP_PORT: 'http' }, 'LANYARD_PROXY_APP_PORT', 'expected a TCP port from 1 to 65535, got "http"'],
    ['fail/routes-json', { LANYARD_PROXY_ROUTES: '[1]' }, 'LANYARD_PROXY_ROUTES', 'routes[0]: expected an object'],
    [
      'fail/routes-unknown-key',
      { LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: '127.0.0.1:1', identity: API, tls: true }]) },
      'LANYARD_PROXY_ROUTES',
      'routes[0]: unknown key "tls" (expected listen, destination, upstream, identity, unmeshed)',
    ],
    ['fail/routes-file-missing', { LANYARD_PROXY_ROUTES_FILE: '/nonexistent/routes.yaml' }, 'LANYARD_PROXY_ROUTES_FILE', 'cannot read /nonexistent/routes.yaml: ENOENT'],
    ['fail/routes-file-is-a-directory', { LANYARD_PROXY_ROUTES_FILE: '<dir>' }, 'LANYARD_PROXY_ROUTES_FILE', 'cannot read <dir>: EISDIR'],
    ['fail/unmeshed', { LANYARD_PROXY_OUTBOUND_UNMESHED: 'plain' }, 'LANYARD_PROXY_OUTBOUND_UNMESHED', 'expected one of allow, deny, got "plain"'],
    ['fail/log-level', { LANYARD_LOG_LEVEL: 'verbose' }, 'LANYARD_LOG_LEVEL', 'expected one of fatal, error, warn, info, debug, trace, silent, got "verbose"'],
    ['fail/max-connections-zero', { LANYARD_PROXY_MAX_CONNECTIONS: '0' }, 'LANYARD_PROXY_MAX_CONNECTIONS', 'expected an integer at least 1, got "0"'],
    ['fail/max-connections-fraction', { LANYARD_PROXY_MAX_CONNECTIONS: '10.5' }, 'LANYARD_PROXY_MAX_CONNECTIONS', 'expected an integer at least 1, got "10.5"'],
    ['fail/policy-file-missing', { LANYARD_PROXY_POLICY_FILE: '/nonexistent/policy.yaml' }, 'LANYARD_PROXY_POLICY_FILE', '/nonexistent/policy.yaml does not exist'],
    ['fail/transparent-not-a-boolean', { LANYARD_PROXY_TRANSPARENT: 'sometimes' }, 'LANYARD_PROXY_TRANSPARENT', 'expected true or false, got "sometimes"'],
    ['fail/mux-not-a-boolean', { LANYARD_PROXY_MUX: 'maybe' }, 'LANYARD_PROXY_MUX', 'expected true or false, got "maybe"'],
    ['fail/detect-timeout', { LANYARD_PROXY_DETECT_TIMEOUT: '10 s' }, 'LANYARD_PROXY_DETECT_TIMEOUT', DUR],
    ['fail/handshake-timeout-bare-number', { LANYARD_PROXY_HANDSHAKE_TIMEOUT: '10' }, 'LANYARD_PROXY_HANDSHAKE_TIMEOUT', /^a number needs a unit \(ms, s, m, h or d\); /],
    ['fail/connect-timeout-negative', { LANYARD_PROXY_CONNECT_TIMEOUT: '-5s' }, 'LANYARD_PROXY_CONNECT_TIMEOUT', DUR],
    ['fail/connect-timeout-zero', { LANYARD_PROXY_CONNECT_TIMEOUT: '0' }, 'LANYARD_PROXY_CONNECT_TIMEOUT', 'must be greater than zero'],
    ['fail/idle-timeout-trailing', { LANYARD_PROXY_IDLE_TIMEOUT: '1h30' }, 'LANYARD_PROXY_IDLE_TIMEOUT', DUR],
    ['fail/min-refresh-upper-case', { LANYARD_PROXY_MIN_REFRESH: '10S' }, 'LANYARD_PROXY_MIN_REFRESH', DUR],
  ])('%s', (_name, env, variable, why) => {
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v?.replace('<dir>', dir)]));
    let err: unknown;
    try {
      parse(resolved);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProxyConfigError);
    const message = (err as Error).message.replaceAll(dir, '<dir>');
    const prefix = `${proxySource(variable)}: `;
    expect(message.slice(0, prefix.length)).toBe(prefix);
    if (typeof why === 'string') expect(message.slice(prefix.length)).toBe(why);
    else expect(message.slice(prefix.length)).toMatch(why);
  });

  test('fail/transparent-without-discovery names both variables and flags', () => {
    expect(() => parse({ LANYARD_PROXY_TRANSPARENT: 'true' })).toThrow(
      /^--discovery-addr \(env LANYARD_PROXY_DISCOVERY_ADDR\): required in transparent mode \(--transparent \(env LANYARD_PROXY_TRANSPARENT\)\)/,
    );
  });
});
