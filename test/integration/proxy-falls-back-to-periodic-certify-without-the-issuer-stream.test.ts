/**
 * An identity service that serves Certify alone, as Linkerd's identity controller does: the
 * proxy's issuer status stream is answered UNIMPLEMENTED, the proxy says so once, reports
 * `periodic-certify` on /identity, and calls Certify at a random moment in every re-issue
 * window instead, so a new issuer still reaches it within one window.
 */
import { metric, waitUntil } from '../support/mesh-harness.js';
import { identityOfProxy, startRotationMesh, waitForIssuer } from '../support/rotation.js';
import { createTestPki } from '../support/test-ca.js';

const WINDOW_MS = 3000;

test('no stream (UNIMPLEMENTED): a Certify in every window picks up the new issuer', async () => {
  const first = await createTestPki({ issuerCn: 'issuer-1' });
  const second = await createTestPki({ anchor: first.anchor, issuerCn: 'issuer-2' });
  const r = await startRotationMesh(first, { issuerStatusStream: false, pollIntervalMs: 200 });
  try {
    const web = await r.mesh.proxy({ name: 'web', sa: 'web', env: { LANYARD_PROXY_TRUST_ANCHORS: r.bundleFile, LANYARD_PROXY_REISSUE_WINDOW: `${WINDOW_MS}ms` } });
    const unsupported = await web.waitForLog({ event: 'issuer_watch_unsupported' });
    expect(unsupported).toMatchObject({ every_ms: WINDOW_MS });
    expect(String(unsupported.reason)).toMatch(/UNIMPLEMENTED/);
    expect((await identityOfProxy(web)).issuer_status).toBe('periodic-certify');
    // The periodic check runs while nothing changes (same issuer, new leaf each time).
    await waitUntil(async () => (await metric(web.admin, 'lanyard_proxy_identity_reissues_total', { cause: 'issuer-check' })) >= 1, 'a periodic check', 2 * WINDOW_MS + 5000);

    r.setIssuer(second, first.anchor.certPem);
    await waitForIssuer([web], second.issuerCert.fingerprint256, 'the new issuer through a periodic Certify', 2 * WINDOW_MS + 10_000);
    // The Certify that brought it started within a window of the service's reload.
    const reloadedAt = Date.parse(String(r.mesh.identity.logs.where({ msg: 'issuer reloaded' })[0].time));
    const serial = (await identityOfProxy(web)).serial;
    const refreshed = web.where({ event: 'identity_refreshed', serial })[0];
    expect(refreshed.cause).toBe('issuer-check');
    expect(Date.parse(String(refreshed.time)) - Number(refreshed.duration_ms) - reloadedAt).toBeLessThan(WINDOW_MS + 500);
    expect(web.where({ event: 'issuer_changed' })).toHaveLength(1);
    expect(web.where({ event: 'identity_refreshed', cause: 'issuer-check' }).length).toBeGreaterThanOrEqual(2);
    expect(web.where({ event: 'issuer_watch_unsupported' })).toHaveLength(1);
    expect(web.where({ event: 'identity_refresh_failed' })).toEqual([]);
  } finally {
    await r.mesh.stop();
  }
}, 60_000);
