/**
 * An upstream that accepts TCP and never answers the TLS handshake cannot hold the dials to
 * it: with a connect timeout of 500 ms and a handshake timeout of 1 s, every connection routed
 * there is refused (`upstream:timeout`, audited) once the 1.5 s bound passes, its socket is
 * destroyed, and the dials that were waiting on the one shared session setup are all told.
 * A second route, to a real peer proxy, keeps working while they wait.
 */
import { Mesh, httpGet, identityOf, metric, tcpExchange, waitUntil, type ProxyProcess, type TcpApp, openConnections } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
const WAVE = 20;
let mesh: Mesh;
let api: ProxyProcess;
let silent: TcpApp;

beforeAll(async () => {
  mesh = await Mesh.start();
  const appPort = await mesh.app('api');
  api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(appPort) } });
  silent = await mesh.tcpApp(() => undefined); // accepts, reads the ClientHello, says nothing
});
afterAll(() => mesh.stop());

async function webProxy(name: string, env: Record<string, string> = {}): Promise<ProxyProcess> {
  const routes = [
    { listen: '127.0.0.1:0', upstream: `127.0.0.1:${silent.port}`, identity: API },
    { listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: API },
  ];
  return mesh.proxy({ name, sa: 'web', env: { LANYARD_PROXY_ROUTES: JSON.stringify(routes), LANYARD_PROXY_CONNECT_TIMEOUT: '500ms', LANYARD_PROXY_HANDSHAKE_TIMEOUT: '1s', ...env } });
}

const timedOut = (p: ProxyProcess) => p.where({ event: 'connection', direction: 'outbound', close_reason: 'upstream:timeout' });

test('multiplexed: the waves of dials sharing one stuck session setup all fail, the other route works meanwhile', async () => {
  const web = await webProxy('web');
  const acceptedBefore = silent.received.length;
  const wave = Array.from({ length: WAVE }, (_, i) => tcpExchange(web.outbound[0], `GET /${i} HTTP/1.1\r\nHost: x\r\n\r\n`, { timeoutMs: 10_000 }));
  await waitUntil(() => silent.received.length > acceptedBefore, 'the stuck upstream to be dialled');
  // While every dial of the wave waits on the stuck handshake, the other destination answers.
  expect(await httpGet(web.outbound[1], '/meanwhile')).toEqual({ status: 200, body: 'api: GET /meanwhile\n' });
  expect(timedOut(web)).toHaveLength(0);

  const results = await Promise.all(wave);
  // Closed by the proxy (a reset: it never read what we sent), not by our 10 s.
  for (const r of results) expect(r).toEqual({ data: Buffer.alloc(0), closed: 'ECONNRESET' });
  await waitUntil(() => timedOut(web).length === WAVE, `${WAVE} audit lines with upstream:timeout`);
  for (const line of timedOut(web)) {
    expect(line).toMatchObject({ decision: 'deny', expected_identity: API, peer_identity: 'unauthenticated', bytes_rx: 0 });
    expect(line.reason).toBe(`upstream 127.0.0.1:${silent.port}: TLS handshake did not complete within 1500 ms`);
    expect(line.duration_ms).toBeGreaterThanOrEqual(1400);
  }
  // One shared session setup for the whole wave, and its socket was destroyed on expiry.
  expect(silent.received.length).toBe(acceptedBefore + 1);
  await waitUntil(() => silent.sockets.size === 0, 'the stuck connection to be closed by the proxy');

  // A second wave starts a new setup (the stuck one was forgotten), bounded the same way.
  const again = await Promise.all(Array.from({ length: 5 }, () => tcpExchange(web.outbound[0], 'x', { timeoutMs: 10_000 })));
  for (const r of again) expect(r.closed).toBe('ECONNRESET');
  await waitUntil(() => timedOut(web).length === WAVE + 5, 'the second wave audited');
  expect(await openConnections(web.admin, 'outbound')).toBe(0);
  expect(await httpGet(web.outbound[1], '/after')).toEqual({ status: 200, body: 'api: GET /after\n' });
});

test('classic transport (LANYARD_PROXY_MUX=false): each dial has its own bounded handshake', async () => {
  const web = await webProxy('web-classic', { LANYARD_PROXY_MUX: 'false' });
  const acceptedBefore = silent.received.length;
  const results = await Promise.all(Array.from({ length: 5 }, () => tcpExchange(web.outbound[0], 'x', { timeoutMs: 10_000 })));
  for (const r of results) expect(r.closed).toBe('ECONNRESET');
  await waitUntil(() => timedOut(web).length === 5, 'five audit lines with upstream:timeout');
  expect(silent.received.length).toBe(acceptedBefore + 5);
  await waitUntil(() => silent.sockets.size === 0, 'every stuck connection closed by the proxy');
});
