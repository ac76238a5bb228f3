/**
 * Clock skew between a proxy and the identity service is measured both ways, exported as a
 * metric and logged once it exceeds the allowance. The identity service runs on a clock 30 s
 * behind (its leaves are still valid: NotBefore is backdated from its clock): the proxy
 * estimates the skew from the issuer status stream (/identity, a gauge, one warning past its
 * 5 s allowance); the service observes each caller's clock (a histogram, and a warning past
 * its --skew of 20 s).
 */
import { adminJson, metric } from '../support/mesh-harness.js';
import { identityOfProxy, startRotationMesh } from '../support/rotation.js';
import { createTestPki } from '../support/test-ca.js';

const BEHIND_MS = 30_000;

test('30 s behind: the proxy exports and logs it, the service observes and logs it', async () => {
  const pki = await createTestPki({ notBefore: new Date(Date.now() - 3600_000) });
  const r = await startRotationMesh(pki, { clock: () => Date.now() - BEHIND_MS });
  try {
    const web = await r.mesh.proxy({ name: 'web', sa: 'web', env: { LANYARD_PROXY_TRUST_ANCHORS: r.bundleFile, LANYARD_PROXY_CLOCK_SKEW_ALLOWANCE: '5s' } });
    const warned = await web.waitForLog({ event: 'clock_skew' });
    expect(warned.level).toBe('warn');
    expect(Number(warned.skew_ms)).toBeGreaterThan(-BEHIND_MS - 2000);
    expect(Number(warned.skew_ms)).toBeLessThan(-BEHIND_MS + 2000);
    expect(String(warned.msg)).toMatch(/ahead of the identity service's, beyond the 5s allowed/);
    const report = await identityOfProxy(web);
    expect(Math.abs(Number(report.identity_service_skew_ms) + BEHIND_MS)).toBeLessThan(2000);
    expect(Math.abs((await metric(web.admin, 'lanyard_proxy_identity_service_clock_skew_seconds')) + BEHIND_MS / 1000)).toBeLessThan(2);
    expect((await adminJson(web.admin, '/identity')).ready).toBe(true);

    const logged = r.mesh.identity.logs.where({ event: 'client_clock_skew' });
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 'warn', claimed_identity: 'web.default.serviceaccount.identity.lanyard.cluster.local', allowed_ms: 20_000 });
    expect(Math.abs(Number(logged[0].skew_ms) - BEHIND_MS)).toBeLessThan(2000);
    const text = await r.mesh.identity.service.registry.metrics();
    expect(text).toMatch(/^lanyard_identity_client_clock_skew_seconds_count 1$/m);
    expect(text).toMatch(/^lanyard_identity_client_clock_skew_seconds_bucket\{le="20"\} 0$/m);
    expect(text).toMatch(/^lanyard_identity_client_clock_skew_seconds_bucket\{le="60"\} 1$/m);
    // Logged once, not at every heartbeat (1 s apart) that came since.
    expect(web.where({ event: 'clock_skew' })).toHaveLength(1);
  } finally {
    await r.mesh.stop();
  }
}, 60_000);
