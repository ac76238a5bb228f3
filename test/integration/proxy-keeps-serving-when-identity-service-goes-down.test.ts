/**
 * The identity service going away must not take the mesh down with it: when a refresh
 * fails, the proxy logs `identity_refresh_failed` with the serial it keeps, retries with
 * exponential backoff (spacing doubling, jittered within [50%, 100%] of the step, never past
 * the certificate's expiry), stays
 * ready, and carries mTLS with its current certificate meanwhile.
 *
 * Leaves live 15 s here, so the first refresh comes at ~70% of that (9.5–10.5 s) and three
 * failed attempts fit before the certificate expires.
 */
import { Mesh, identityOf, httpGet, metric, nthLog, type LogLine, type ProxyProcess } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');

let mesh: Mesh;
let api: ProxyProcess;
let web: ProxyProcess;
beforeAll(async () => {
  mesh = await Mesh.start({ lifetimeMs: 15_000 });
  const small = { LANYARD_PROXY_MIN_REFRESH: '1s' };
  ({ api, web } = await mesh.pair({ appPort: await mesh.app('api'), apiEnv: small, webEnv: small }));
});
afterAll(() => mesh.stop());

test('refresh failures keep the current certificate, back off, and mTLS keeps flowing', async () => {
  const installed = await api.waitForLog({ event: 'identity_refreshed' });
  const serial = installed.serial as string;
  expect(Date.parse(installed.not_after as string) - Date.now()).toBeLessThan(15_000);
  await mesh.identity.service.stop();

  const failures: LogLine[] = [];
  let requests = 0;
  for (let n = 1; n <= 3; n++) {
    failures.push(await nthLog(api, { event: 'identity_refresh_failed' }, n, 20_000));
    // Between attempts, with the identity service gone, requests still go through on the old certificate.
    expect(await httpGet(web.outbound[0], `/during-outage-${n}`)).toEqual({ status: 200, body: `api: GET /during-outage-${n}\n` });
    requests++;
  }

  const expiresAt = Date.parse(installed.not_after as string);
  for (const [i, f] of failures.entries()) {
    expect(f).toMatchObject({ level: 'warn', identity: API, keeping: serial, expired: false, msg: 'certificate refresh failed; keeping the current certificate' });
    expect(f.error).toMatch(/^Certify failed: UNAVAILABLE/);
    // Step i doubles from 1 s; the jitter keeps each delay in [50%, 100%] of its step; but a
    // retry never waits past the certificate's expiry (on a slow machine the third may be cut).
    const step = 1000 * 2 ** i;
    const untilExpiry = expiresAt - Date.parse(f.time as string);
    expect(f.retry_in_ms).toBeGreaterThanOrEqual(Math.min(step / 2, untilExpiry - 20));
    expect(f.retry_in_ms).toBeLessThanOrEqual(Math.min(step, untilExpiry + 20));
  }
  // The attempts really are that far apart (log times have millisecond resolution).
  const at = failures.map((f) => Date.parse(f.time as string));
  expect(at[1] - at[0]).toBeGreaterThanOrEqual((failures[0].retry_in_ms as number) - 5);
  expect(at[2] - at[1]).toBeGreaterThanOrEqual((failures[1].retry_in_ms as number) - 5);
  expect(at[2] - at[1]).toBeGreaterThan(at[1] - at[0] - 100); // spacing grows (jitter aside)

  expect((await fetch(`http://127.0.0.1:${api.admin}/ready`)).status).toBe(200);
  expect(await metric(api.admin, 'lanyard_proxy_identity_refreshes_total', { result: 'error' })).toBeGreaterThanOrEqual(3);
  expect(api.where({ event: 'identity_refreshed' })).toHaveLength(1);
  await nthLog(api, { event: 'connection', decision: 'allow', tls: true }, requests);
  const allowed = api.where({ event: 'connection', decision: 'allow', tls: true });
  expect(allowed.every((l) => l.peer_identity === identityOf('default', 'web'))).toBe(true);
  expect(api.alive()).toBe(true);
}, 30_000);
