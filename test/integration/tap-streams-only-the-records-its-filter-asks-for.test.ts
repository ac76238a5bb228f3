/**
 * `lanyard tap` against a real proxy, three taps at once with different filters, the
 * filters applied by the proxy: `--decision deny` sees exactly the refusals (ops's two
 * streams and their two refused sessions, and a plaintext client), `--identity web --port`
 * sees web's two streams and ends by itself at `--max 2`, and a text tap prints its line.
 * Records come only after the proxy confirmed the subscription; Ctrl-C ends a tap with 0.
 */
import { Mesh, identityOf, metric, tcpExchange, waitUntil, type ProxyProcess, type TcpApp } from '../support/mesh-harness.js';
import { startLanyard, type RunningCli } from '../support/cli.js';

const API = identityOf('default', 'api');
const WEB = identityOf('default', 'web');
const OPS = identityOf('default', 'ops');
let mesh: Mesh;
let app: TcpApp;
let api: ProxyProcess;
let web: ProxyProcess;
let ops: ProxyProcess;
const taps: RunningCli[] = [];

beforeAll(async () => {
  mesh = await Mesh.start();
  app = await mesh.tcpApp((s) => s.pipe(s));
  const policy = { ports: { [String(app.port)]: { allow: [{ identities: [WEB] }] } } };
  api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(app.port), LANYARD_PROXY_POLICY: JSON.stringify(policy) } });
  const routes = JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: API }]);
  web = await mesh.proxy({ name: 'web', sa: 'web', env: { LANYARD_PROXY_ROUTES: routes } });
  ops = await mesh.proxy({ name: 'ops', sa: 'ops', env: { LANYARD_PROXY_ROUTES: routes } });
}, 60_000);
afterAll(async () => {
  await Promise.all(taps.map((t) => t.stop('SIGKILL')));
  await mesh.stop();
});

const records = (t: RunningCli) => t.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

test('each tap gets what its filter asks for, and only that', async () => {
  const admin = `127.0.0.1:${api.admin}`;
  const denied = startLanyard(['tap', '--proxy', admin, '--decision', 'deny', '-o', 'json']);
  const fromWeb = startLanyard(['tap', '--proxy', admin, '--identity', WEB, '--port', String(app.port), '-o', 'json', '--max', '2']);
  const text = startLanyard(['tap', '--proxy', admin, '--decision', 'deny', '--identity', '127.0.0.1', '--max', '1']);
  taps.push(denied, fromWeb, text);
  await Promise.all(taps.map((t) => t.waitFor(/tapping 1 proxy/, 30_000)));
  expect(await metric(api.admin, 'lanyard_proxy_audit_subscribers')).toBe(3);

  for (let i = 0; i < 2; i++) expect((await tcpExchange(web.outbound[0], 'hello', { end: true })).data.toString()).toBe('hello');
  for (let i = 0; i < 2; i++) expect((await tcpExchange(ops.outbound[0], 'hello', { end: true })).data.length).toBe(0);
  expect((await tcpExchange(api.inbound, 'plain text', { end: true })).data.length).toBe(0);

  // --max 2: web's two streams, then the tap ends by itself.
  expect(await fromWeb.exited()).toBe(0);
  expect(records(fromWeb).map((r) => [r.event, r.peer_identity, r.decision, r.port, r.transport])).toEqual([
    ['connection', WEB, 'allow', app.port, 'mux'],
    ['connection', WEB, 'allow', app.port, 'mux'],
  ]);

  // Every refusal: ops's two streams and the two sessions refused with them, and the plaintext client.
  await waitUntil(() => records(denied).length === 5, '5 refusals on the deny tap', 20_000);
  const seen = records(denied).map((r) => `${String(r.event)} ${String(r.peer_identity)}`).sort();
  expect(seen).toEqual([`connection ${OPS}`, `connection ${OPS}`, 'connection unauthenticated', `mux_session ${OPS}`, `mux_session ${OPS}`]);
  expect(records(denied).every((r) => r.audit === 'v1' && r.decision === 'deny')).toBe(true);
  expect(await denied.stop('SIGINT')).toBe(0);

  expect(await text.exited()).toBe(0);
  expect(text.stdout().trim()).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} deny   inbound  127\\.0\\.0\\.1:\\d+ → api\\.default :${app.port} port:${app.port}/no-match \\(policy-deny\\) rx 0 tx 0$`));

  await waitUntil(async () => (await metric(api.admin, 'lanyard_proxy_audit_subscribers')) === 0, 'the taps unsubscribed');
  // Three CLI processes start, each bounded by its own wait above.
}, 60_000);

test('a bad filter is refused by the proxy with what was wrong', async () => {
  const res = await fetch(`http://127.0.0.1:${api.admin}/audit?decision=maybe`);
  expect(res.status).toBe(400);
  expect(await res.text()).toBe('bad request: decision: expected one of allow, deny, audit, got "maybe"\n');
  const typo = await fetch(`http://127.0.0.1:${api.admin}/audit?identiy=x`);
  expect(await typo.text()).toBe('bad request: unknown parameter "identiy" (expected one of identity, port, decision, would_deny, format)\n');
});
