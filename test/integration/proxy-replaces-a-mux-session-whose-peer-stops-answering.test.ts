/**
 * A peer proxy that stops answering but keeps its TCP connection open (SIGSTOP: the kernel
 * still ACKs, the process reads nothing) is found by the multiplexed session's PING
 * keepalive (1 s here): the session is dropped, the connection it was carrying is closed and
 * audited instead of hanging, dials meanwhile fail in bounded time, and once the peer runs
 * again (SIGCONT) a new session replaces the dead one.
 */
import { connect, type Socket } from 'node:net';
import { Mesh, identityOf, nthLog, tcpExchange, waitUntil, type ProxyProcess, type TcpApp } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
let mesh: Mesh;
let app: TcpApp;
let api: ProxyProcess;
let web: ProxyProcess;

beforeAll(async () => {
  mesh = await Mesh.start();
  app = await mesh.tcpApp((s) => s.pipe(s)); // echoes
  api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(app.port) } });
  web = await mesh.proxy({
    name: 'web',
    sa: 'web',
    env: {
      LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: API }]),
      LANYARD_PROXY_KEEPALIVE: '1s',
      LANYARD_PROXY_CONNECT_TIMEOUT: '500ms',
      LANYARD_PROXY_HANDSHAKE_TIMEOUT: '1s',
    },
  });
});
afterAll(async () => {
  api.child.kill('SIGCONT');
  await mesh.stop();
});

/** A connection through web that stays open; resolves once its first echo came back. */
function held(): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: web.outbound[0] });
    socket.on('error', () => undefined);
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('data', () => resolve({ socket, closed }));
    socket.write('hello');
  });
}

test('SIGSTOP of the peer: the session is dropped by keepalive, then replaced after SIGCONT', async () => {
  const conn = await held();
  await web.waitForLog({ event: 'mux_session_opened' });

  api.child.kill('SIGSTOP');
  try {
    const closedSession = await web.waitForLog({ event: 'mux_session_closed' }, 15_000);
    expect(closedSession).toMatchObject({ reason: 'keepalive-timeout', upstream: `127.0.0.1:${api.inbound}`, identity: API });
    await conn.closed; // the carried connection went down with the session, instead of hanging
    const line = await web.waitForLog({ event: 'connection', direction: 'outbound' });
    expect(line).toMatchObject({ decision: 'allow', peer_identity: API, bytes_rx: 5, bytes_tx: 5 });
    expect(String(line.close_reason)).toMatch(/^(error|closed):b/);
    // A dial while the peer is stopped: its TCP backlog accepts, TLS never answers; bounded.
    const r = await tcpExchange(web.outbound[0], 'while stopped', { timeoutMs: 10_000 });
    expect(r.closed).not.toBe('timeout');
    expect((await nthLog(web, { event: 'connection', direction: 'outbound' }, 2)).close_reason).toBe('upstream:timeout');
  } finally {
    api.child.kill('SIGCONT');
  }

  // Replaced: the next connection gets a new session.
  await waitUntil(async () => (await tcpExchange(web.outbound[0], 'after', { end: true })).data.toString() === 'after', 'a connection through a new session');
  expect(web.where({ event: 'mux_session_opened' }).length).toBeGreaterThanOrEqual(2);
}, 60_000);
