/**
 * The audit sink is not the diagnostic log: with LANYARD_LOG_LEVEL=silent the proxy logs
 * nothing, not even that it is ready or that it refused someone, and its stdout still gets
 * one v1 record for every connection, allowed and refused. (Every other test runs proxies at
 * `debug` and reads the same records.)
 */
import { Mesh, freePort, httpGet, identityOf, tcpExchange, waitUntil, type ProxyProcess } from '../support/mesh-harness.js';

const WEB = identityOf('default', 'web');
let mesh: Mesh;
let api: ProxyProcess;
let admin: number;
let inbound: number;

beforeAll(async () => {
  mesh = await Mesh.start();
  const app = await mesh.tcpApp((s) => s.pipe(s));
  [admin, inbound] = [await freePort(), await freePort()];
  const policy = { ports: { [String(app.port)]: { allow: [{ identities: [WEB] }] } }, default: 'all-unauthenticated' };
  api = await mesh.proxy({
    name: 'api',
    sa: 'api',
    noWait: true, // no proxy_ready line will come: the ports are chosen here
    env: {
      LANYARD_LOG_LEVEL: 'silent',
      LANYARD_PROXY_APP_PORT: String(app.port),
      LANYARD_PROXY_ADMIN_ADDR: `127.0.0.1:${admin}`,
      LANYARD_PROXY_INBOUND_ADDR: `127.0.0.1:${inbound}`,
      LANYARD_PROXY_POLICY: JSON.stringify(policy),
    },
  });
  await waitUntil(async () => (await httpGet(admin, '/ready').catch(() => ({ status: 0 }))).status === 200, 'api ready', 20_000);
}, 60_000);
afterAll(() => mesh.stop());

test('silent: no diagnostic line, and every decision still audited', async () => {
  for (let i = 0; i < 3; i++) await tcpExchange(inbound, 'plain', { end: true }); // unauthenticated: refused by the port's allow list
  await waitUntil(() => api.logs.length === 3, 'three records on stdout');
  expect(api.logs.map((l) => [l.audit, l.event, l.decision, l.peer_identity, l.close_reason])).toEqual([
    ['v1', 'connection', 'deny', 'unauthenticated', 'policy-deny'],
    ['v1', 'connection', 'deny', 'unauthenticated', 'policy-deny'],
    ['v1', 'connection', 'deny', 'unauthenticated', 'policy-deny'],
  ]);
  // The record of the sink, counted: nothing was left out because nothing was logged.
  const metrics = await httpGet(admin, '/metrics');
  expect(metrics.body).toMatch(/^lanyard_proxy_audit_records_total\{event="connection"\} 3$/m);
});
