/**
 * One multiplexed session (node:http2 over mutual TLS) that floods refused streams cannot
 * flood the diagnostic log, and no refusal goes unrecorded. With a limit of 5, the session
 * and 4 held streams take every slot; 200 more streams are refused with 503 (the limit), and
 * 100 that are not CONNECT with 405. Every one is counted and has its audit record; the
 * diagnostic log holds the first of each kind in full, then one `connections_refused` line
 * per kind with the count of the rest.
 */
import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { Mesh, identityOf, metric, waitUntil, workloadLeaf, type ProxyProcess, openConnections } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
const WEB = identityOf('default', 'web');
let mesh: Mesh;
let api: ProxyProcess;
let session: ClientHttp2Session;

beforeAll(async () => {
  mesh = await Mesh.start();
  const app = await mesh.tcpApp((s) => s.pipe(s)); // holds each connection until its peer closes
  api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(app.port), LANYARD_PROXY_MAX_CONNECTIONS: '5', LANYARD_PROXY_AUDIT_SUMMARY_INTERVAL: '2s' } });
  const leaf = await workloadLeaf({ issuerCert: mesh.identity.pki.issuerCert, issuerKey: mesh.identity.pki.issuerKey, ns: 'default', sa: 'web' });
  session = await new Promise<ClientHttp2Session>((resolve, reject) => {
    const tls = tlsConnect({ host: '127.0.0.1', port: api.inbound, servername: API, ca: mesh.identity.pki.anchor.certPem, cert: leaf.certPem + leaf.chainPem, key: leaf.keyPem, ALPNProtocols: ['lanyard.mux.v1'] });
    tls.once('error', reject);
    tls.once('secureConnect', () => {
      const s = h2connect(`https://${API}`, { createConnection: () => tls, settings: { maxConcurrentStreams: 1000 } });
      s.on('error', () => undefined);
      s.once('connect', () => resolve(s));
    });
  });
});
afterAll(async () => {
  session?.destroy();
  await mesh.stop();
});

function request(method: string): Promise<{ status: number; stream: ClientHttp2Stream }> {
  return new Promise((resolve) => {
    const stream = session.request({ [constants.HTTP2_HEADER_METHOD]: method, [constants.HTTP2_HEADER_AUTHORITY]: '127.0.0.1:8080', ...(method === 'CONNECT' ? {} : { [constants.HTTP2_HEADER_PATH]: '/' }) });
    stream.on('response', (h) => resolve({ status: Number(h[':status']), stream }));
    stream.on('error', () => resolve({ status: 0, stream }));
  });
}

const closed = (labels: Record<string, string>) => metric(api.admin, 'lanyard_proxy_connections_closed_total', { direction: 'inbound', peer_identity: WEB, ...labels });

test('200 streams refused at the limit and 100 protocol errors: all counted, two full lines and two summaries', async () => {
  const held = await Promise.all(Array.from({ length: 4 }, () => request('CONNECT')));
  expect(held.map((h) => h.status)).toEqual([200, 200, 200, 200]);
  expect(await openConnections(api.admin, 'inbound')).toBe(5);

  const atLimit = await Promise.all(Array.from({ length: 200 }, () => request('CONNECT')));
  expect(atLimit.every((r) => r.status === 503)).toBe(true);
  const notConnect = await Promise.all(Array.from({ length: 100 }, () => request('GET')));
  expect(notConnect.every((r) => r.status === 405)).toBe(true);

  // Every decision counted.
  await waitUntil(async () => (await closed({ decision: 'deny', reason: 'limit' })) === 200, '200 refusals at the limit counted');
  expect(await closed({ decision: 'deny', reason: 'protocol-error' })).toBe(100);

  // The audit sink is the record of every decision: 300 refusals, 300 records.
  await waitUntil(() => api.where({ audit: 'v1', event: 'connection', decision: 'deny' }).length === 300, '300 audit records');
  const records = api.where({ audit: 'v1', event: 'connection', decision: 'deny' });
  expect(records.filter((l) => l.close_reason === 'limit')).toHaveLength(200);
  expect(records.filter((l) => l.close_reason === 'protocol-error')).toHaveLength(100);
  expect(new Set(records.map((l) => l.session)).size).toBe(1);

  // The diagnostic log, in summary: the first of each kind in full, then one line with the count of the rest.
  const summaries = () => api.where({ event: 'connections_refused' });
  await waitUntil(() => summaries().length === 2, 'two summary lines', 10_000);
  const full = api.where({ event: 'connection_denied' });
  expect(full).toHaveLength(2);
  expect(full.find((l) => l.close_reason === 'limit')).toMatchObject({ rule: 'limit', reason: 'the inbound connection limit is reached', peer_identity: WEB, level: 'warn', session: records[0].session });
  expect(full.find((l) => l.close_reason === 'protocol-error')).toMatchObject({ reason: 'stream method GET is not CONNECT' });
  expect(summaries().find((l) => l.close_reason === 'limit')).toMatchObject({ count: 199, peer_identity: WEB, rule: 'limit', interval_ms: 2000, level: 'warn' });
  expect(summaries().find((l) => l.close_reason === 'protocol-error')).toMatchObject({ count: 99, peer_identity: WEB });

  // The held streams were never disturbed.
  for (const h of held) h.stream.close();
  await waitUntil(async () => (await openConnections(api.admin, 'inbound')) === 1, 'only the session left');
});
