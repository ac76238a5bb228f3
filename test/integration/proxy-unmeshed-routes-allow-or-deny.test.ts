/**
 * An `unmeshed: true` route leads to something outside the mesh (a database, an external
 * API): LANYARD_PROXY_OUTBOUND_UNMESHED=allow carries it as plain TCP, audited `tls:false`;
 * `deny` refuses it before anything is dialled, audited `decision: deny`.
 */
import { Mesh, metric, tcpExchange, waitUntil, type ProxyProcess, type TcpApp, openConnections } from '../support/mesh-harness.js';

let mesh: Mesh;
let app: TcpApp;
let allowing: ProxyProcess;
let denying: ProxyProcess;
beforeAll(async () => {
  mesh = await Mesh.start();
  app = await mesh.tcpApp((s) => s.pipe(s)); // a plain echo server outside the mesh
  const routes = JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${app.port}`, unmeshed: true }]);
  allowing = await mesh.proxy({ name: 'allowing', sa: 'web', env: { LANYARD_PROXY_ROUTES: routes, LANYARD_PROXY_OUTBOUND_UNMESHED: 'allow' } });
  denying = await mesh.proxy({ name: 'denying', sa: 'web', env: { LANYARD_PROXY_ROUTES: routes, LANYARD_PROXY_OUTBOUND_UNMESHED: 'deny' } });
});
afterAll(() => mesh.stop());

test('allow: plain TCP to the unmeshed destination, audited without TLS', async () => {
  const res = await tcpExchange(allowing.outbound[0], 'SELECT 1;', { end: true });
  expect(res).toEqual({ data: Buffer.from('SELECT 1;'), closed: 'end' });
  expect(app.received).toHaveLength(1);
  expect(app.bytes(0).toString()).toBe('SELECT 1;'); // in the clear, as sent: no TLS in between

  const line = await allowing.waitForLog({ event: 'connection', direction: 'outbound' });
  expect(line).toMatchObject({
    audit: 'v1',
    peer_identity: 'unauthenticated',
    tls: false,
    dst: `127.0.0.1:${app.port}`,
    port: app.port,
    decision: 'allow',
    rule: expect.stringMatching(/^route:127\.0\.0\.1:\d+$/),
    reason: 'unmeshed destination: plain TCP',
    bytes_tx: 9,
    bytes_rx: 9,
    close_reason: 'eof',
  });
  expect(await metric(allowing.admin, 'tcp_open_total', { direction: 'outbound', peer: 'dst', tls: 'no_identity', no_tls_reason: 'not_provided_by_service_discovery' })).toBe(1);
});

test('deny: refused before the destination is dialled, audited as a deny', async () => {
  const before = app.received.length;
  const res = await tcpExchange(denying.outbound[0], 'SELECT 1;');
  expect(res.data.length).toBe(0);
  expect(['end', 'ECONNRESET']).toContain(res.closed);

  const line = await denying.waitForLog({ event: 'connection', direction: 'outbound' });
  expect(line).toMatchObject({
    audit: 'v1',
    peer_identity: 'unauthenticated',
    tls: false,
    dst: `127.0.0.1:${app.port}`,
    decision: 'deny',
    reason: 'unmeshed destination and LANYARD_PROXY_OUTBOUND_UNMESHED=deny',
    close_reason: 'refused',
    bytes_rx: 0,
    bytes_tx: 0,
  });
  // Give a stray dial every chance to show up, then check that none did.
  await new Promise((r) => setTimeout(r, 200));
  expect(app.received.length).toBe(before);
  expect(await metric(denying.admin, 'lanyard_proxy_connections_closed_total', { direction: 'outbound', decision: 'deny', reason: 'refused' })).toBe(1);
  await waitUntil(async () => (await openConnections(denying.admin, 'outbound')) === 0, 'no active outbound connection');
  expect(denying.alive()).toBe(true);
});
