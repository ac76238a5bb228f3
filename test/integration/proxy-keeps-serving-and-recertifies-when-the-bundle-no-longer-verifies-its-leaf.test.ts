/**
 * A proxy that receives a bundle which does not verify its current leaf keeps serving with the
 * leaf it has (peers still holding the old bundle accept it), re-certifies at once, logs it
 * and counts it. Here the issuer moved to a new anchor while api's re-issue window is long,
 * so api still holds a leaf from the old anchor when its own bundle drops that anchor; web
 * (which already moved) keeps sending it traffic throughout.
 */
import { metric } from '../support/mesh-harness.js';
import { identityOfProxy, moreRequests, startRotationMesh, startTraffic, waitForIssuer } from '../support/rotation.js';
import { createTestPki } from '../support/test-ca.js';
import { join } from 'node:path';

test('keeps serving with its leaf, re-certifies at once, logs and counts it', async () => {
  const oldPki = await createTestPki({ anchorCn: 'root-old', issuerCn: 'issuer-old' });
  const newPki = await createTestPki({ anchorCn: 'root-new', issuerCn: 'issuer-new' });
  const both = oldPki.anchor.certPem + newPki.anchor.certPem;
  const r = await startRotationMesh(oldPki);
  try {
    r.setIssuer(oldPki, both);
    r.setProxyBundle(both);
    const apiBundle = join(r.mesh.dir, 'api-bundle.pem');
    r.setProxyBundle(both, apiBundle);
    const appPort = await r.mesh.app('api');
    const { api, web } = await r.mesh.pair({
      appPort,
      // api would otherwise move to the new issuer within its window before its bundle changes.
      apiEnv: { LANYARD_PROXY_TRUST_ANCHORS: apiBundle, LANYARD_PROXY_REISSUE_WINDOW: '24h', LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' },
      webEnv: { LANYARD_PROXY_TRUST_ANCHORS: r.bundleFile, LANYARD_PROXY_REISSUE_WINDOW: '1s' },
    });
    r.setIssuer(newPki, both);
    await waitForIssuer([web], newPki.issuerCert.fingerprint256, 'web on the new issuer');
    expect((await identityOfProxy(api)).issuer_fingerprint_sha256).toBe(oldPki.issuerCert.fingerprint256);
    const traffic = startTraffic(web.outbound[0]);
    await moreRequests(traffic, 30, 'before api drops the old anchor');
    const before = (await identityOfProxy(api)).serial;

    r.setProxyBundle(newPki.anchor.certPem, apiBundle);
    const warned = await api.waitForLog({ event: 'leaf_not_trusted_by_bundle' });
    expect(warned).toMatchObject({ level: 'warn', serial: before, issuer: oldPki.issuerCert.fingerprint256, anchors: [newPki.anchorCert.fingerprint256] });
    await waitForIssuer([api], newPki.issuerCert.fingerprint256, 'api re-certified from the new issuer', 10_000);
    await moreRequests(traffic, 50, 'after api re-certified');
    await traffic.stop();

    expect(traffic.failures).toEqual([]);
    const refreshed = api.where({ event: 'identity_refreshed', cause: 'leaf-untrusted' });
    expect(refreshed).toHaveLength(1);
    // At once: the re-issue is not spread over a window.
    expect(Date.parse(String(refreshed[0].time)) - Date.parse(String(warned.time))).toBeLessThan(3000);
    expect(await metric(api.admin, 'lanyard_proxy_identity_reissues_total', { cause: 'leaf-untrusted' })).toBe(1);
    expect(await metric(api.admin, 'lanyard_proxy_trust_bundle_reloads_total', { result: 'ok' })).toBe(1);
    const report = await identityOfProxy(api);
    expect(report.chains_to).toEqual([newPki.anchorCert.fingerprint256]);
    expect(api.where({ event: 'proxy_ready' })).toHaveLength(1);
  } finally {
    await r.mesh.stop();
  }
}, 60_000);
