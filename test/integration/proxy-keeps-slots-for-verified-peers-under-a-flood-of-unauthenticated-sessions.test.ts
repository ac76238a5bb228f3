/**
 * TLS clients without a certificate that offer ALPN lanyard.mux.v1 and then open no stream
 * (node:tls + node:http2, as the probe did) can no longer lock verified peers out. With a
 * limit of 50 (5 kept for authenticated peers): 45 such sessions are admitted, counted in
 * the open connections (tcp_open_connections), and the rest refused and counted; a peer proxy with a certificate still
 * gets through; the idle timeout closes the silent sessions, each audited as a `mux_session`;
 * and a session the policy could never allow (all-authenticated, no certificate) gets its
 * first stream answered 403 and is gone at once, audited, its slot free.
 */
import { connect as h2connect, constants, type ClientHttp2Session } from 'node:http2';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { Mesh, httpGet, identityOf, metric, waitUntil, type ProxyProcess, openConnections } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
const LIMIT = 50;
const SHARE = 45;
const FLOOD = 60;
let mesh: Mesh;
let api: ProxyProcess;
let strict: ProxyProcess;

beforeAll(async () => {
  mesh = await Mesh.start();
  const appPort = await mesh.app('api');
  const common = { LANYARD_PROXY_APP_PORT: String(appPort), LANYARD_PROXY_MAX_CONNECTIONS: String(LIMIT), LANYARD_PROXY_IDLE_TIMEOUT: '3s' };
  api = await mesh.proxy({ name: 'api', sa: 'api', env: common });
  strict = await mesh.proxy({ name: 'strict', sa: 'api', env: { ...common, LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' } });
});
afterAll(() => mesh.stop());

interface Anonymous {
  tls: TLSSocket;
  h2: ClientHttp2Session | null;
  closed: Promise<void>;
}

/** A TLS session without a client certificate, offering the mux ALPN; HTTP/2 once selected. */
function anonymousSession(port: number): Promise<Anonymous> {
  return new Promise((resolve) => {
    const tls = tlsConnect({ host: '127.0.0.1', port, servername: API, ca: mesh.identity.pki.anchor.certPem, ALPNProtocols: ['lanyard.mux.v1'] });
    const closed = new Promise<void>((r) => tls.once('close', () => r()));
    tls.on('error', () => undefined);
    tls.once('secureConnect', () => {
      const h2 = h2connect(`https://${API}`, { createConnection: () => tls });
      h2.on('error', () => undefined);
      resolve({ tls, h2, closed });
    });
    tls.once('close', () => resolve({ tls, h2: null, closed }));
  });
}

const active = (p: ProxyProcess) => openConnections(p.admin, 'inbound');
const refusals = async (p: ProxyProcess) =>
  (await metric(p.admin, 'lanyard_proxy_connections_refused_total', { direction: 'inbound', reason: 'unauthenticated-share' })) +
  (await metric(p.admin, 'lanyard_proxy_connections_refused_total', { direction: 'inbound', reason: 'limit' }));

test(`${FLOOD} silent anonymous sessions: ${SHARE} admitted and counted, verified peers still served, idle ones closed and audited`, async () => {
  const flood = await Promise.all(Array.from({ length: FLOOD }, () => anonymousSession(api.inbound)));
  // Refused at accept (every slot taken) or after the handshake (the unauthenticated share taken).
  await waitUntil(async () => (await refusals(api)) === FLOOD - SHARE, `${FLOOD - SHARE} sessions refused`);
  expect(flood.filter((s) => s.h2 === null || s.tls.destroyed)).toHaveLength(FLOOD - SHARE);
  expect(await active(api)).toBe(SHARE);

  // A peer with a certificate takes one of the slots kept for it.
  const web = await mesh.proxy({ name: 'web', sa: 'web', env: { LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: API }]) } });
  expect(await httpGet(web.outbound[0], '/through')).toEqual({ status: 200, body: 'api: GET /through\n' });

  // Silent sessions are closed by the idle timeout, each one audited.
  await Promise.all(flood.map((s) => s.closed));
  await waitUntil(() => api.where({ event: 'mux_session', close_reason: 'idle' }).length === SHARE, `${SHARE} mux_session lines`);
  for (const line of api.where({ event: 'mux_session', close_reason: 'idle' })) {
    expect(line).toMatchObject({ direction: 'inbound', peer_identity: 'unauthenticated', tls: true, decision: 'allow', rule: 'default:all-unauthenticated', streams: 0 });
  }
  await waitUntil(async () => (await active(api)) === 1, "the active gauge back to web's one session");
});

test('a session the policy can never allow: the first stream is refused with 403, the session goes away, audited', async () => {
  const s = await anonymousSession(strict.inbound);
  const status = await new Promise<number>((resolve) => {
    const st = s.h2!.request({ [constants.HTTP2_HEADER_METHOD]: 'CONNECT', [constants.HTTP2_HEADER_AUTHORITY]: '127.0.0.1:8080' });
    st.on('response', (h) => resolve(Number(h[':status'])));
    st.on('error', () => resolve(0));
  });
  expect(status).toBe(403);
  await s.closed;
  const session = await strict.waitForLog({ event: 'mux_session' });
  expect(session).toMatchObject({ peer_identity: 'unauthenticated', decision: 'deny', rule: 'default:all-authenticated', reason: 'peer is not authenticated', close_reason: 'policy-deny', streams: 1 });
  expect(strict.where({ event: 'connection', close_reason: 'policy-deny' })).toHaveLength(1);
  await waitUntil(async () => (await active(strict)) === 0, 'no slot held');
});
