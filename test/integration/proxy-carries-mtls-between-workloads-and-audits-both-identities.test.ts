/**
 * web → (outbound proxy) ==mTLS==> (inbound proxy) → api: the request succeeds, each side
 * verifies the other's identity, and both audit lines carry every field an operator needs.
 */
import { Mesh, identityOf, httpGet, adminJson, type ProxyProcess } from '../support/mesh-harness.js';

const WEB = identityOf('default', 'web');
const API = identityOf('default', 'api');

let mesh: Mesh;
let api: ProxyProcess;
let web: ProxyProcess;
let apiPort: number;
beforeAll(async () => {
  mesh = await Mesh.start();
  apiPort = await mesh.app('api');
  api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(apiPort), LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' } });
  web = await mesh.proxy({
    name: 'web',
    sa: 'web',
    env: { LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: API }]) },
  });
});
afterAll(() => mesh.stop());

test('request succeeds and both audit lines name the other identity, field by field', async () => {
  const res = await httpGet(web.outbound[0], '/hello');
  expect(res).toEqual({ status: 200, body: 'api: GET /hello\n' });

  const inbound = await api.waitForLog({ event: 'connection', direction: 'inbound', decision: 'allow' });
  expect(inbound).toMatchObject({
    audit: 'v1',
    local_identity: API,
    peer_identity: WEB,
    peer_spiffe_id: 'spiffe://cluster.local/ns/default/sa/web',
    tls: true,
    // Where the bytes went (the stream named api's inbound port; explicit mode delivers to the app).
    dst: `127.0.0.1:${apiPort}`,
    port: apiPort,
    decision: 'allow',
    rule: 'default:all-authenticated',
    close_reason: 'eof',
  });
  expect(inbound.src).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(inbound.bytes_rx).toBeGreaterThan(40); // the request
  expect(inbound.bytes_tx).toBeGreaterThan(100); // the response with headers
  expect(inbound.duration_ms).toBeGreaterThan(0);
  expect(typeof inbound.time).toBe('string');

  const outbound = await web.waitForLog({ event: 'connection', direction: 'outbound' });
  expect(outbound).toMatchObject({
    local_identity: WEB,
    peer_identity: API,
    tls: true,
    dst: `127.0.0.1:${api.inbound}`,
    port: api.inbound,
    decision: 'allow',
    rule: `route:127.0.0.1:${web.outbound[0]}`,
    close_reason: 'eof',
  });
  expect(outbound.bytes_tx).toBe(inbound.bytes_rx);
  expect(outbound.bytes_rx).toBe(inbound.bytes_tx);
});

test('/identity, /ready and /metrics describe the workload', async () => {
  const id = await adminJson(web.admin, '/identity');
  expect(id).toMatchObject({ local_identity: WEB, spiffe_id: 'spiffe://cluster.local/ns/default/sa/web' });
  expect((id.chain as unknown[]).length).toBe(2);
  expect((id.anchors as { fingerprint_sha256: string }[])[0].fingerprint_sha256).toBe(mesh.identity.pki.anchorCert.fingerprint256);
  expect((await fetch(`http://127.0.0.1:${web.admin}/ready`)).status).toBe(200);
  const metrics = await (await fetch(`http://127.0.0.1:${api.admin}/metrics`)).text();
  // Linkerd's names and labels where linkerd2-proxy measures the same thing.
  expect(metrics).toMatch(new RegExp(`^tcp_open_total\\{direction="inbound",peer="src",tls="true",client_id="${WEB.replace(/\./g, '\\.')}"\\} \\d+$`, 'm'));
  expect(metrics).toMatch(new RegExp(`^inbound_tcp_authz_allow_total\\{target_addr="127\\.0\\.0\\.1:${apiPort}",srv_name="default:all-authenticated",tls="true",client_id="${WEB.replace(/\./g, '\\.')}",authz_name="default:all-authenticated"\\} \\d+$`, 'm'));
  expect(metrics).toMatch(/^identity_cert_expiration_timestamp_seconds \d+/m);
  expect(metrics).toMatch(/^lanyard_proxy_ready 1$/m);
  expect(metrics).toMatch(/^lanyard_build_info\{version="[^"]+",node_version="[^"]+",component="proxy"\} 1$/m);
  expect(metrics).toMatch(/lanyard_proxy_inbound_detect_total\{outcome="tls-local"\} \d+/);
  expect(metrics).toMatch(/lanyard_proxy_tls_handshake_duration_seconds_count\{direction="inbound"\} \d+/);
});

test('later connections ride the one multiplexed mTLS connection: no new handshakes', async () => {
  const count = async (admin: number, dir: string) => {
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    return Number(new RegExp(`lanyard_proxy_tls_handshake_duration_seconds_count\\{direction="${dir}"\\} (\\d+)`).exec(metrics)?.[1]);
  };
  const before = await count(web.admin, 'outbound');
  for (let i = 0; i < 5; i++) expect((await httpGet(web.outbound[0], `/r${i}`)).status).toBe(200);
  expect(await count(web.admin, 'outbound')).toBe(before);
  expect(await count(api.admin, 'inbound')).toBe(1);
  const line = await web.waitForLog({ event: 'connection', direction: 'outbound' });
  expect(String(line.reason)).toMatch(/\(multiplexed\)$/);
});

test('with LANYARD_PROXY_MUX=false each connection has its own TLS connection, and sessions resume', async () => {
  const classic = await mesh.proxy({
    name: 'web-classic',
    sa: 'web',
    env: { LANYARD_PROXY_MUX: 'false', LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: API }]) },
  });
  for (let i = 0; i < 4; i++) expect((await httpGet(classic.outbound[0], `/c${i}`)).status).toBe(200);
  const metrics = await (await fetch(`http://127.0.0.1:${classic.admin}/metrics`)).text();
  expect(Number(/lanyard_proxy_tls_handshake_duration_seconds_count\{direction="outbound"\} (\d+)/.exec(metrics)?.[1])).toBe(4);
  expect(Number(/lanyard_proxy_tls_sessions_resumed_total\{direction="outbound"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(3);
  const line = await classic.waitForLog({ event: 'connection', direction: 'outbound' });
  expect(String(line.reason)).not.toMatch(/multiplexed/);
});
