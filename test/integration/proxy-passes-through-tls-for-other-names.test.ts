/**
 * TLS for a name other than the proxy's own is not the proxy's to terminate: the bytes,
 * ClientHello included, reach the application untouched (it may speak TLS itself), and the
 * audit line says the connection was passed through, unauthenticated, without TLS on the
 * proxy's side.
 */
import { Mesh, captureClientHello, identityOf, metric, openssl, tcpExchange, waitUntil, type ProxyProcess, type TcpApp } from '../support/mesh-harness.js';

const OTHER = 'billing.example.com';

let mesh: Mesh;
let api: ProxyProcess;
let app: TcpApp;
beforeAll(async () => {
  mesh = await Mesh.start();
  app = await mesh.tcpApp(); // records what it receives, never answers
  api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(app.port) } });
});
afterAll(() => mesh.stop());

test('openssl s_client with another SNI reaches the application with its ClientHello intact', async () => {
  const res = await openssl(['s_client', '-connect', `127.0.0.1:${api.inbound}`, '-servername', OTHER], {
    until: () => waitUntil(() => app.received.length === 1 && app.bytes(0).includes(OTHER), 'the ClientHello at the application'),
  });
  expect(res.stdout).not.toContain('Server certificate'); // nobody answered the handshake
  const got = app.bytes(0);
  expect([...got.subarray(0, 2)]).toEqual([0x16, 0x03]); // a TLS handshake record
  expect(got[5]).toBe(0x01); // carrying a ClientHello

  const line = await api.waitForLog({ event: 'connection', direction: 'inbound' });
  expect(line).toMatchObject({
    local_identity: identityOf('default', 'api'),
    peer_identity: 'unauthenticated',
    tls: false,
    decision: 'allow',
    rule: 'default:all-unauthenticated',
    reason: `TLS for ${OTHER} passed through; all-unauthenticated allows every peer`,
    bytes_rx: got.length,
  });
  expect(await metric(api.admin, 'lanyard_proxy_inbound_detect_total', { outcome: 'tls-passthrough' })).toBe(1);
});

test('the passed-through bytes are byte-for-byte what the client sent', async () => {
  const hello = await captureClientHello({ servername: OTHER });
  const rest = Buffer.from('\x17\x03\x03\x00\x05hello-after-the-hello');
  const payload = Buffer.concat([hello, rest]);
  const res = await tcpExchange(api.inbound, payload, { end: true });
  expect(res.closed).toBe('end');
  await waitUntil(() => app.received.length === 2 && app.bytes(1).length === payload.length, 'all bytes at the application');
  expect(app.bytes(1).equals(payload)).toBe(true);
  const line = await api.waitForLog({ event: 'connection', bytes_rx: payload.length });
  expect(line).toMatchObject({ tls: false, reason: `TLS for ${OTHER} passed through; all-unauthenticated allows every peer`, close_reason: 'eof' });
});

test('TLS without any SNI is passed through too', async () => {
  const hello = await captureClientHello({ servername: '' });
  const res = await tcpExchange(api.inbound, hello, { end: true });
  expect(res.closed).toBe('end');
  await waitUntil(() => app.received.length === 3 && app.bytes(2).length === hello.length, 'the SNI-less ClientHello at the application');
  expect(app.bytes(2).equals(hello)).toBe(true);
  expect(await api.waitForLog({ event: 'connection', reason: 'TLS for no SNI passed through; all-unauthenticated allows every peer' })).toMatchObject({ tls: false });
  expect(api.alive()).toBe(true);
});
