/**
 * Leaves live 10 s and the identity service goes away, so both proxies' certificates expire.
 * Then: `/ready` is 503 and says why (and `lanyard_proxy_ready` is 0); the multiplexed session made with the expired
 * certificates is closed (no new stream rides on it); refresh attempts after expiry are
 * never further apart than the first backoff step (1 s), instead of the next step of the
 * exponential backoff; new mTLS is refused, in and out, with the cause in the audit line
 * (`local-cert-expired`); and once the identity service is back on its address, both proxies
 * are re-certified, ready, and carrying mTLS on a new session.
 */
import { connect as tlsConnect } from 'node:tls';
import { IdentityService } from '../../src/identity/identity-service.js';
import { LogSink } from '../support/log-sink.js';
import { Mesh, freePort, httpGet, identityOf, metric, nthLog, waitUntil, type ProxyProcess } from '../support/mesh-harness.js';

let mesh: Mesh;
let api: ProxyProcess;
let web: ProxyProcess;
let revived: IdentityService | null = null;

beforeAll(async () => {
  mesh = await Mesh.start({ lifetimeMs: 10_000, port: await freePort() });
  const fast = { LANYARD_PROXY_MIN_REFRESH: '1s' };
  ({ api, web } = await mesh.pair({ appPort: await mesh.app('api'), apiEnv: fast, webEnv: fast }));
});
afterAll(async () => {
  await revived?.stop();
  await mesh.stop();
});

const ready = async (p: ProxyProcess) => {
  const res = await fetch(`http://127.0.0.1:${p.admin}/ready`);
  return { status: res.status, body: await res.text() };
};

test('expired: not ready, its session closed, retried every second; back at once when the identity service is', async () => {
  await mesh.identity.service.stop();
  // With the service gone no certificate is installed any more: the session the next request
  // uses is made with the certificates that will expire. (Made at once: leaves of 5 s, cut to
  // the second, can expire within 4 s, before a slow proxy's first refresh has even failed.)
  const installed = api.where({ event: 'identity_refreshed' }).length;
  expect((await httpGet(web.outbound[0], '/before')).status).toBe(200);
  await Promise.all([api, web].map((p) => p.waitForLog({ event: 'identity_refresh_failed' }, 15_000)));

  await waitUntil(async () => (await ready(api)).status === 503, 'api not ready once its certificate expired', 15_000);
  expect((await ready(api)).body).toMatch(/^not ready: certificate [0-9A-F]+ expired at \d{4}-\d\d-\d\dT[\d:.]+Z \(Certify failed: UNAVAILABLE/);
  expect(await metric(api.admin, 'lanyard_proxy_ready')).toBe(0);
  // Closed at the expiry by whichever side's timer fires first (the other then sees it leave).
  const session = await api.waitForLog({ event: 'mux_session' }, 15_000);
  expect(['expired', 'peer-left']).toContain(session.close_reason);
  const ends = [session.close_reason, ...web.where({ event: 'mux_session_closed' }).map((l) => l.reason)];
  expect(ends).toContain('expired');

  // New mTLS while expired: refused by this proxy first, saying why, outbound and inbound.
  await waitUntil(async () => (await ready(web)).status === 503, 'web not ready once its certificate expired', 15_000);
  await httpGet(web.outbound[0], '/while-expired').catch(() => undefined);
  const out = await web.waitForLog({ event: 'connection', direction: 'outbound', close_reason: 'local-cert-expired' });
  expect(out).toMatchObject({ decision: 'deny', expected_identity: identityOf('default', 'api') });
  expect(String(out.reason)).toMatch(/^the local certificate [0-9A-F]+ expired at [\d-]+T[\d:.]+Z: new mTLS is refused until it is renewed/);
  await new Promise<void>((resolve) => {
    const c = tlsConnect({ host: '127.0.0.1', port: api.inbound, servername: identityOf('default', 'api'), rejectUnauthorized: false });
    c.on('error', () => undefined).once('close', () => resolve());
  });
  const inbound = await api.waitForLog({ event: 'connection', direction: 'inbound', close_reason: 'local-cert-expired' });
  expect(inbound).toMatchObject({ decision: 'deny', rule: 'tls', tls: true });

  // After expiry the retries come at most a first backoff step apart.
  await nthLog(api, { event: 'identity_refresh_failed', expired: true }, 3, 15_000);
  for (const f of api.where({ event: 'identity_refresh_failed', expired: true })) expect(f.retry_in_ms).toBeLessThanOrEqual(1000);

  revived = new IdentityService({ port: mesh.identity.port, adminPort: 0, issuerDir: mesh.identity.issuerDir, lifetimeMs: 60_000, logger: new LogSink().logger('identity'), validator: mesh.identity.tokens.validator() });
  await revived.start();
  await nthLog(api, { event: 'identity_refreshed' }, installed + 1, 5000);
  await waitUntil(async () => (await ready(api)).status === 200 && (await ready(web)).status === 200, 'both ready again', 5000);
  expect(await metric(api.admin, 'lanyard_proxy_ready')).toBe(1);
  await waitUntil(async () => (await httpGet(web.outbound[0], '/after').catch(() => ({ status: 0 }))).status === 200, 'mTLS through a new session', 5000);
  expect(web.where({ event: 'mux_session_opened' }).length).toBeGreaterThanOrEqual(2);
}, 60_000);
