/**
 * A proxy whose identity service is not up yet does not serve: /ready is 503 and says why,
 * the inbound port is not even bound (nothing can slip in unauthenticated or without a
 * certificate to present), and every failed Certify is logged and counted. As soon as the
 * identity service appears on its address, the proxy gets its certificate and serves.
 */
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';
import { Mesh, freePort, identityOf, httpGet, metric, tryConnect, type ProxyProcess } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');

let mesh: Mesh;
let late: IdentityHarness | null = null;
let api: ProxyProcess;
let identityPort: number;
let inboundPort: number;
let adminPort: number;
let appPort: number;
beforeAll(async () => {
  // The mesh's own identity service only lends its PKI and token authority here.
  mesh = await Mesh.start();
  appPort = await mesh.app('api');
  [identityPort, inboundPort, adminPort] = [await freePort(), await freePort(), await freePort()];
  api = await mesh.proxy({
    name: 'api',
    sa: 'api',
    noWait: true,
    env: {
      LANYARD_PROXY_IDENTITY_ADDR: `127.0.0.1:${identityPort}`,
      LANYARD_PROXY_INBOUND_ADDR: `127.0.0.1:${inboundPort}`,
      LANYARD_PROXY_ADMIN_ADDR: `127.0.0.1:${adminPort}`,
      LANYARD_PROXY_APP_PORT: String(appPort),
    },
  });
});
afterAll(async () => {
  await mesh.stop();
  await late?.stop();
});

test('without an identity service: not ready, says why, and accepts nothing', async () => {
  const failed = await api.waitForLog({ event: 'identity_refresh_failed' });
  expect(failed).toMatchObject({ level: 'warn', identity: API, keeping: null, msg: 'cannot get a certificate yet' });
  expect(failed.error).toMatch(/^Certify failed: UNAVAILABLE/);
  expect(failed.retry_in_ms).toBeGreaterThanOrEqual(500);

  const ready = await fetch(`http://127.0.0.1:${adminPort}/ready`);
  expect(ready.status).toBe(503);
  expect(await ready.text()).toMatch(/^not ready: waiting for identity \(Certify failed: UNAVAILABLE/);
  expect((await fetch(`http://127.0.0.1:${adminPort}/live`)).status).toBe(200);
  expect(await tryConnect(inboundPort)).toBe('ECONNREFUSED');
  expect(await metric(adminPort, 'lanyard_proxy_identity_refreshes_total', { result: 'error' })).toBeGreaterThanOrEqual(1);
  expect(api.where({ event: 'proxy_ready' })).toHaveLength(0);
  expect(api.alive()).toBe(true);
});

test('once the identity service comes up on that address, the proxy becomes ready and serves', async () => {
  late = await startIdentity({ port: identityPort, pki: mesh.identity.pki, validator: mesh.identity.tokens.validator() });
  const refreshed = await api.waitForLog({ event: 'identity_refreshed' }, 20_000);
  expect(refreshed).toMatchObject({ identity: API });
  await api.waitForLog({ event: 'proxy_ready' });
  await api.ready;
  expect(api.inbound).toBe(inboundPort);

  expect((await fetch(`http://127.0.0.1:${adminPort}/ready`)).status).toBe(200);
  expect(await metric(adminPort, 'lanyard_proxy_identity_refreshes_total', { result: 'ok' })).toBe(1);

  // mTLS from a peer that got its own certificate from the late identity service.
  const web = await mesh.proxy({
    name: 'web',
    sa: 'web',
    env: {
      LANYARD_PROXY_IDENTITY_ADDR: `127.0.0.1:${identityPort}`,
      LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${inboundPort}`, identity: API }]),
    },
  });
  expect(await httpGet(web.outbound[0], '/late')).toEqual({ status: 200, body: 'api: GET /late\n' });
  expect(await api.waitForLog({ event: 'connection', decision: 'allow' })).toMatchObject({ tls: true, peer_identity: identityOf('default', 'web') });
});
