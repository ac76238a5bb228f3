/**
 * The multiplexed transport from the inbound side, driven by a hand-made HTTP/2 client
 * over mutual TLS (ALPN lanyard.mux.v1): each CONNECT stream is one application connection,
 * decided by the policy and audited on its own; streams that are not CONNECT, or whose
 * application is down, are refused with a status and audited; a client without a
 * certificate gets unauthenticated streams.
 */
import { connect as h2connect, constants, type ClientHttp2Session } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { Mesh, identityOf, workloadLeaf, type ProxyProcess } from '../support/mesh-harness.js';
import { freePort } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
const WEB = identityOf('default', 'web');
let mesh: Mesh;

afterEach(() => mesh?.stop());

function muxSession(port: number, leaf: { certPem: string; keyPem: string; chainPem: string } | null, anchors: string): Promise<ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ host: '127.0.0.1', port, servername: API, ca: anchors, ALPNProtocols: ['lanyard.mux.v1'], ...(leaf ? { cert: leaf.certPem + leaf.chainPem, key: leaf.keyPem } : {}) });
    tls.once('error', reject);
    tls.once('secureConnect', () => {
      expect(tls.alpnProtocol).toBe('lanyard.mux.v1');
      const s = h2connect(`https://${API}`, { createConnection: () => tls });
      s.on('error', () => undefined);
      s.once('connect', () => resolve(s));
    });
  });
}

function open(s: ClientHttp2Session, method: string, authority: string, body = ''): Promise<{ status: number; data: string }> {
  return new Promise((resolve, reject) => {
    const st = s.request({ [constants.HTTP2_HEADER_METHOD]: method, [constants.HTTP2_HEADER_AUTHORITY]: authority, ...(method === 'CONNECT' ? {} : { [constants.HTTP2_HEADER_PATH]: '/' }) });
    let status = 0;
    let data = '';
    st.on('response', (h) => {
      status = Number(h[':status']);
      if (status === 200 && body) st.end(body);
    });
    st.on('data', (d: Buffer) => (data += d));
    st.on('close', () => resolve({ status, data }));
    st.on('error', reject);
  });
}

async function start(env: Record<string, string>, appUp = true): Promise<{ api: ProxyProcess; leaf: { certPem: string; keyPem: string; chainPem: string } }> {
  mesh = await Mesh.start();
  const appPort = appUp ? await mesh.app('api') : await freePort();
  const api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(appPort), ...env } });
  const leaf = await workloadLeaf({ issuerCert: mesh.identity.pki.issuerCert, issuerKey: mesh.identity.pki.issuerKey, ns: 'default', sa: 'web' });
  return { api, leaf };
}

test('each stream is its own connection: allowed streams reach the app, every one audited', async () => {
  const { api, leaf } = await start({ LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' });
  const s = await muxSession(api.inbound, leaf, mesh.identity.pki.anchor.certPem);
  const req = 'GET /one HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
  const [a, b] = await Promise.all([open(s, 'CONNECT', '127.0.0.1:4143', req), open(s, 'CONNECT', '127.0.0.1:4143', req)]);
  for (const r of [a, b]) {
    expect(r.status).toBe(200);
    expect(r.data).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*api: GET \/one\n$/);
  }
  const get = await open(s, 'GET', '127.0.0.1:4143');
  expect(get.status).toBe(405);
  s.close();
  await api.waitForLog({ event: 'connection', close_reason: 'protocol-error' });
  const allowed = api.where({ event: 'connection', direction: 'inbound', decision: 'allow' });
  expect(allowed).toHaveLength(2);
  for (const l of allowed) expect(l).toMatchObject({ peer_identity: WEB, tls: true, rule: 'default:all-authenticated', close_reason: 'eof' });
  expect(api.where({ event: 'connection', close_reason: 'protocol-error' })[0]).toMatchObject({ decision: 'deny', reason: 'stream method GET is not CONNECT' });
});

test('a client without a certificate gets unauthenticated streams, each denied and audited', async () => {
  const { api } = await start({ LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' });
  const s = await muxSession(api.inbound, null, mesh.identity.pki.anchor.certPem);
  const r = await open(s, 'CONNECT', '127.0.0.1:4143');
  expect(r.status).toBe(403);
  s.close();
  const line = await api.waitForLog({ event: 'connection', decision: 'deny', close_reason: 'policy-deny' });
  expect(line).toMatchObject({ peer_identity: 'unauthenticated', rule: 'default:all-authenticated' });
});

test('the application being down answers 502 and is audited', async () => {
  const { api, leaf } = await start({}, false);
  const s = await muxSession(api.inbound, leaf, mesh.identity.pki.anchor.certPem);
  const r = await open(s, 'CONNECT', '127.0.0.1:4143');
  expect(r.status).toBe(502);
  s.close();
  const line = await api.waitForLog({ event: 'connection', close_reason: 'app-connect:ECONNREFUSED' });
  expect(line).toMatchObject({ peer_identity: WEB, decision: 'allow' });
});

test('the audit says where the bytes went: a stream naming port 22 is delivered to the app port, and dst says so', async () => {
  mesh = await Mesh.start();
  const appPort = await mesh.app('api');
  const api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(appPort) } });
  const leaf = await workloadLeaf({ issuerCert: mesh.identity.pki.issuerCert, issuerKey: mesh.identity.pki.issuerKey, ns: 'default', sa: 'web' });
  const s = await muxSession(api.inbound, leaf, mesh.identity.pki.anchor.certPem);
  const r = await open(s, 'CONNECT', '127.0.0.1:22', 'GET /ssh HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  expect(r.status).toBe(200);
  expect(r.data).toMatch(/api: GET \/ssh\n$/);
  s.close();
  const line = await api.waitForLog({ event: 'connection', close_reason: 'eof' });
  expect(line).toMatchObject({ dst: `127.0.0.1:${appPort}`, port: appPort, peer_identity: WEB });
});
