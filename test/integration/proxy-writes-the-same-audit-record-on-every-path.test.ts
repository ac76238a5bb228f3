/**
 * One connection pipeline: a classic inbound connection, a multiplexed stream and an
 * outbound connection are audited by the same code, so the same decision reads the same on
 * every path. Driven by real clients: node:tls (classic), node:http2 over mutual TLS with
 * ALPN lanyard.mux.v1 (a stream), and a real peer proxy (outbound, then a stream at api).
 * Only where and when differ (src, duration, time); every other field is equal.
 */
import { connect as h2connect, constants } from 'node:http2';
import { connect as tcpConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { Mesh, adminJson, identityOf, nthLog, waitUntil, workloadLeaf, type LeafPem, type LogLine, type ProxyProcess, type TcpApp } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
const PAYLOAD = 'ping through the mesh';
let mesh: Mesh;
let app: TcpApp;
let api: ProxyProcess;
let web: ProxyProcess;
let webLeaf: LeafPem;
let opsLeaf: LeafPem;

beforeAll(async () => {
  mesh = await Mesh.start();
  app = await mesh.tcpApp((s) => s.pipe(s)); // echoes, and closes after the peer's FIN
  const policy = { ports: { [String(app.port)]: { allow: [{ identities: [identityOf('default', 'web')] }] } } };
  ({ api, web } = await mesh.pair({ appPort: app.port, apiEnv: { LANYARD_PROXY_POLICY: JSON.stringify(policy) } }));
  const issuer = { issuerCert: mesh.identity.pki.issuerCert, issuerKey: mesh.identity.pki.issuerKey, ns: 'default' };
  webLeaf = await workloadLeaf({ ...issuer, sa: 'web' });
  opsLeaf = await workloadLeaf({ ...issuer, sa: 'ops' });
});
afterAll(() => mesh.stop());

/** Sends PAYLOAD, half-closes, and collects the answer until the connection closes. */
function classic(leaf: LeafPem): Promise<string> {
  return new Promise((resolve) => {
    const tls = tlsConnect({ host: '127.0.0.1', port: api.inbound, servername: API, ca: mesh.identity.pki.anchor.certPem, cert: leaf.certPem + leaf.chainPem, key: leaf.keyPem });
    let data = '';
    tls.on('data', (d: Buffer) => (data += d));
    tls.on('error', () => undefined);
    tls.once('secureConnect', () => tls.end(PAYLOAD));
    tls.once('close', () => resolve(data));
  });
}

/** One CONNECT stream on a fresh session: the status, and what came back. */
function stream(leaf: LeafPem): Promise<{ status: number; data: string }> {
  return new Promise((resolve, reject) => {
    const tls = tlsConnect({ host: '127.0.0.1', port: api.inbound, servername: API, ca: mesh.identity.pki.anchor.certPem, cert: leaf.certPem + leaf.chainPem, key: leaf.keyPem, ALPNProtocols: ['lanyard.mux.v1'] });
    tls.once('error', reject);
    tls.once('secureConnect', () => {
      const session = h2connect(`https://${API}`, { createConnection: () => tls });
      session.on('error', () => undefined);
      const st = session.request({ [constants.HTTP2_HEADER_METHOD]: 'CONNECT', [constants.HTTP2_HEADER_AUTHORITY]: `127.0.0.1:${app.port}` });
      let status = 0;
      let data = '';
      st.on('response', (h) => {
        status = Number(h[':status']);
        if (status === 200) st.end(PAYLOAD);
      });
      st.on('data', (d: Buffer) => (data += d));
      st.on('error', () => undefined);
      st.on('close', () => (session.close(), resolve({ status, data })));
    });
  });
}

function outbound(): Promise<string> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port: web.outbound[0] });
    let data = '';
    s.on('data', (d: Buffer) => (data += d));
    s.on('error', () => undefined);
    s.once('connect', () => s.end(PAYLOAD));
    s.once('close', () => resolve(data));
  });
}

/** What depends on the decision, not on where, when, how it was carried or which of the peer's certificates: everything but those. */
function decided(line: LogLine): LogLine {
  const { src: _src, duration_ms: _d, time: _t, transport: _tr, session: _s, peer_serial: _ps, ...rest } = line;
  return rest;
}

const serialOf = (leaf: LeafPem) => new X509Certificate(leaf.certPem).serialNumber.toUpperCase();

const inboundLines = () => api.where({ event: 'connection', direction: 'inbound' });

test('an allowed connection: classic, stream and through a peer proxy write equal records', async () => {
  expect(await classic(webLeaf)).toBe(PAYLOAD);
  const viaClassic = await nthLog(api, { event: 'connection', direction: 'inbound' }, 1);
  expect(await stream(webLeaf)).toEqual({ status: 200, data: PAYLOAD });
  const viaStream = await nthLog(api, { event: 'connection', direction: 'inbound' }, 2);
  expect(await outbound()).toBe(PAYLOAD);
  const viaProxy = await nthLog(api, { event: 'connection', direction: 'inbound' }, 3);
  const out = await web.waitForLog({ event: 'connection', direction: 'outbound' });

  expect(viaClassic).toMatchObject({ audit: 'v1', decision: 'allow', tls: true, close_reason: 'eof', dst: `127.0.0.1:${app.port}`, port: app.port, bytes_rx: PAYLOAD.length, bytes_tx: PAYLOAD.length });
  // The certificate each client presented: the test's own leaf (classic, stream) and web's from the identity service.
  expect(viaClassic).toMatchObject({ transport: 'tls', session: null, peer_serial: serialOf(webLeaf), peer_issuer_fingerprint_sha256: mesh.identity.pki.issuerCert.fingerprint256 });
  expect(viaStream).toMatchObject({ transport: 'mux', session: expect.stringMatching(/^[0-9a-f]{8}-\d+$/), peer_serial: serialOf(webLeaf) });
  expect(viaProxy).toMatchObject({ transport: 'mux', peer_serial: expect.stringMatching(/^[0-9A-F]+$/), peer_issuer_fingerprint_sha256: mesh.identity.pki.issuerCert.fingerprint256 });
  await waitUntil(() => api.where({ audit: 'v1', event: 'mux_session', session: viaStream.session }).length === 1, "the stream's session record");
  expect(api.where({ audit: 'v1', event: 'mux_session', session: viaStream.session })[0]).toMatchObject({ transport: 'mux', streams: 1, peer_serial: serialOf(webLeaf) });
  expect(decided(viaStream)).toEqual(decided(viaClassic));
  expect(decided(viaProxy)).toEqual(decided(viaClassic));
  // The outbound record has the same fields; its own values say what the outbound side saw.
  expect(Object.keys(out).sort()).toEqual(Object.keys(viaClassic).sort());
  expect(out).toMatchObject({ decision: 'allow', close_reason: 'eof', tls: true, peer_identity: API, expected_identity: API, bytes_rx: PAYLOAD.length, bytes_tx: PAYLOAD.length });
  // The server api presented, as api's own /identity names it.
  const apiCert = await adminJson(api.admin, '/identity');
  expect(out).toMatchObject({ transport: 'mux', peer_serial: apiCert.serial, peer_issuer_fingerprint_sha256: mesh.identity.pki.issuerCert.fingerprint256 });
  expect(viaClassic.expected_identity).toBeNull();
});

test('a denied peer: classic and stream write equal records', async () => {
  const before = inboundLines().length;
  expect(await classic(opsLeaf)).toBe('');
  const viaClassic = await nthLog(api, { event: 'connection', direction: 'inbound' }, before + 1);
  expect((await stream(opsLeaf)).status).toBe(403);
  const viaStream = await nthLog(api, { event: 'connection', direction: 'inbound' }, before + 2);

  expect(viaClassic).toMatchObject({
    decision: 'deny',
    peer_identity: identityOf('default', 'ops'),
    rule: `port:${app.port}/no-match`,
    close_reason: 'policy-deny',
    bytes_rx: 0,
    bytes_tx: 0,
  });
  expect(decided(viaStream)).toEqual(decided(viaClassic));
  expect(app.received.length).toBe(3); // the three allowed connections only
});
