/**
 * A multiplexed session whose peer goes away without an HTTP/2 GOAWAY is closed when its
 * socket ends, so it cannot sit in CLOSE-WAIT holding a slot. With a limit of 10: 30
 * short-lived clients in a row (node:tls + node:http2 with a certificate, one stream each,
 * then a TCP FIN) all get through, each session audited `peer-left`; and a real peer proxy
 * killed with SIGKILL mid-session leaves nothing behind either.
 */
import { connect as h2connect, constants } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { Mesh, httpGet, identityOf, metric, nthLog, waitUntil, workloadLeaf, type LeafPem, type ProxyProcess, openConnections } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
const CLIENTS = 30;
let mesh: Mesh;
let api: ProxyProcess;
let leaf: LeafPem;

beforeAll(async () => {
  mesh = await Mesh.start();
  const appPort = await mesh.app('api');
  api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(appPort), LANYARD_PROXY_MAX_CONNECTIONS: '10' } });
  leaf = await workloadLeaf({ issuerCert: mesh.identity.pki.issuerCert, issuerKey: mesh.identity.pki.issuerKey, ns: 'default', sa: 'web' });
});
afterAll(() => mesh.stop());

/** One stream through a fresh session, then the TCP connection is half-closed (FIN), no GOAWAY. */
function streamThenFin(): Promise<number> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ host: '127.0.0.1', port: api.inbound, servername: API, ca: mesh.identity.pki.anchor.certPem, cert: leaf.certPem + leaf.chainPem, key: leaf.keyPem, ALPNProtocols: ['lanyard.mux.v1'] });
    tls.once('error', reject);
    tls.once('secureConnect', () => {
      const h2 = h2connect(`https://${API}`, { createConnection: () => tls });
      h2.on('error', () => undefined);
      const st = h2.request({ [constants.HTTP2_HEADER_METHOD]: 'CONNECT', [constants.HTTP2_HEADER_AUTHORITY]: '127.0.0.1:1' });
      st.on('response', (h) => {
        st.end('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
        st.resume();
        st.once('end', () => {
          tls.end(); // FIN under the session: no GOAWAY, no RST
          resolve(Number(h[':status']));
        });
      });
      st.on('error', reject);
    });
  });
}

const active = () => openConnections(api.admin, 'inbound');

test(`${CLIENTS} clients that leave with a FIN against a limit of 10: every one served, every session closed`, async () => {
  for (let i = 0; i < CLIENTS; i++) expect(await streamThenFin()).toBe(200);
  await nthLog(api, { event: 'mux_session', close_reason: 'peer-left' }, CLIENTS);
  expect(api.where({ event: 'mux_session' }).every((l) => l.peer_identity === identityOf('default', 'web') && l.streams === 1)).toBe(true);
  await waitUntil(async () => (await active()) === 0, 'no slot held');
});

test('a peer proxy killed with SIGKILL: its session is closed when the socket ends', async () => {
  const before = api.where({ event: 'mux_session' }).length;
  const web = await mesh.proxy({ name: 'web', sa: 'web', env: { LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: API }]) } });
  expect((await httpGet(web.outbound[0], '/once')).status).toBe(200);
  await waitUntil(async () => (await active()) === 1, "only web's session open (its stream done)");
  web.child.kill('SIGKILL');
  const line = await nthLog(api, { event: 'mux_session' }, before + 1);
  expect(line).toMatchObject({ close_reason: 'peer-left', peer_identity: identityOf('default', 'web'), streams: 1 });
  await waitUntil(async () => (await active()) === 0, 'no slot held');
});
