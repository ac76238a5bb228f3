/**
 * Under LANYARD_PROXY_DEFAULT_POLICY=all-authenticated a peer must prove an identity: a TLS
 * client for the right name but without a certificate completes the handshake (the client
 * certificate is optional at the TLS layer) and is then refused by the policy, and so is a
 * plaintext client; neither reaches the application. Under all-unauthenticated the same
 * clients are let through, unauthenticated.
 */
import { Mesh, identityOf, httpGet, metric, openssl, tcpExchange, type ProxyProcess, type TcpApp, metricSum } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
const REQUEST = 'GET /plain HTTP/1.0\r\n\r\n';

let mesh: Mesh;
let strict: ProxyProcess;
let open: ProxyProcess;
let web: ProxyProcess;
let strictApp: TcpApp;
beforeAll(async () => {
  mesh = await Mesh.start();
  strictApp = await mesh.tcpApp((s) => s.end('should never be reached\n'));
  ({ api: strict, web } = await mesh.pair({ appPort: strictApp.port, apiEnv: { LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' } }));
  open = await mesh.proxy({ name: 'open', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(await mesh.app('api')), LANYARD_PROXY_DEFAULT_POLICY: 'all-unauthenticated' } });
});
afterAll(() => mesh.stop());

const sClient = (port: number) =>
  openssl(['s_client', '-connect', `127.0.0.1:${port}`, '-servername', API, '-CAfile', mesh.anchorsFile()], {
    input: REQUEST,
    timeoutMs: 10_000,
  });

describe('all-authenticated', () => {
  test('a TLS client without a certificate completes the handshake and is then denied by policy', async () => {
    const res = await sClient(strict.inbound);
    expect(res.timedOut).toBe(false); // the proxy closed the connection
    expect(res.stdout).toContain('Verify return code: 0 (ok)');
    expect(res.stdout).not.toContain('HTTP/1.');

    const line = await strict.waitForLog({ event: 'connection', tls: true, decision: 'deny' });
    expect(line).toMatchObject({
      local_identity: API,
      peer_identity: 'unauthenticated',
      rule: 'default:all-authenticated',
      reason: 'peer is not authenticated',
      close_reason: 'policy-deny',
      bytes_rx: 0,
      bytes_tx: 0,
    });
  });

  test('a plaintext client is denied by policy', async () => {
    const res = await tcpExchange(strict.inbound, REQUEST);
    expect(res.data.length).toBe(0);
    expect(['end', 'ECONNRESET']).toContain(res.closed);

    const line = await strict.waitForLog({ event: 'connection', tls: false, decision: 'deny' });
    expect(line).toMatchObject({ peer_identity: 'unauthenticated', rule: 'default:all-authenticated', reason: 'peer is not authenticated', close_reason: 'policy-deny' });
    // Both denials counted: the TLS client without a certificate, and this one.
    expect(await metricSum(strict.admin, 'inbound_tcp_authz_deny_total', { srv_name: 'default:all-authenticated' })).toBe(2);
    expect(await metric(strict.admin, 'inbound_tcp_authz_deny_total', { tls: 'no_identity', target_addr: `127.0.0.1:${strictApp.port}` })).toBe(1);
    expect(await metric(strict.admin, 'lanyard_proxy_inbound_detect_total', { outcome: 'plaintext' })).toBe(1);
  });

  test('nothing reached the application, and an authenticated peer still does', async () => {
    expect(strictApp.received).toHaveLength(0);
    expect(strict.alive()).toBe(true);
    // The app answers without reading, so compare only what came back through the pair.
    const res = await tcpExchange(web.outbound[0], REQUEST);
    expect(res.data.toString()).toBe('should never be reached\n');
    expect(strictApp.received).toHaveLength(1);
    expect(await strict.waitForLog({ event: 'connection', decision: 'allow' })).toMatchObject({ peer_identity: identityOf('default', 'web'), rule: 'default:all-authenticated' });
  });
});

describe('all-unauthenticated', () => {
  test('a plaintext client reaches the application, unauthenticated', async () => {
    const res = await tcpExchange(open.inbound, REQUEST);
    expect(res.data.toString()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\napi: GET \/plain\n$/);
    const line = await open.waitForLog({ event: 'connection', tls: false });
    expect(line).toMatchObject({ decision: 'allow', peer_identity: 'unauthenticated', rule: 'default:all-unauthenticated', close_reason: 'eof' });
    expect(line.bytes_rx).toBe(REQUEST.length);
  });

  test('a TLS client without a certificate reaches the application, unauthenticated', async () => {
    const res = await openssl(['s_client', '-connect', `127.0.0.1:${open.inbound}`, '-servername', API, '-CAfile', mesh.anchorsFile(), '-quiet'], {
      input: REQUEST,
      until: () => open.waitForLog({ event: 'connection', tls: true }),
    });
    expect(res.stdout).toContain('api: GET /plain');
    expect(await open.waitForLog({ event: 'connection', tls: true })).toMatchObject({ decision: 'allow', peer_identity: 'unauthenticated', rule: 'default:all-unauthenticated' });
    expect((await httpGet(open.inbound, '/again')).body).toBe('api: GET /again\n');
  });
});
