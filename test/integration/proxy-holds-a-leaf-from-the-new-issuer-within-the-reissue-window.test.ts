/**
 * Prompt re-issue: after the identity service's issuer changes (its issuer directory swapped),
 * every proxy holds a leaf from the new issuer within its re-issue window (shortened here to
 * 4 s), without a restart, as its admin /identity shows. Each learned of the change from the
 * issuer status stream and re-certified at a random moment within the window; the re-issue
 * is counted under its cause and the issuer info metric names the new issuer.
 */
import { metric, waitUntil } from '../support/mesh-harness.js';
import { identityOfProxy, startRotationMesh, waitForIssuer } from '../support/rotation.js';
import { createTestPki } from '../support/test-ca.js';

const WINDOW_MS = 4000;

test('every proxy holds a leaf from the new issuer within the window, without a restart', async () => {
  const first = await createTestPki({ issuerCn: 'issuer-1' });
  const second = await createTestPki({ anchor: first.anchor, issuerCn: 'issuer-2' });
  const r = await startRotationMesh(first, { pollIntervalMs: 200 });
  try {
    const env = { LANYARD_PROXY_TRUST_ANCHORS: r.bundleFile, LANYARD_PROXY_REISSUE_WINDOW: `${WINDOW_MS}ms` };
    const proxies = await Promise.all(['web', 'api', 'db', 'cache'].map((sa) => r.mesh.proxy({ name: sa, sa, env })));
    for (const p of proxies) {
      const report = await identityOfProxy(p);
      expect(report.issuer_fingerprint_sha256).toBe(first.issuerCert.fingerprint256);
      await p.waitForLog({ event: 'identity_refreshed' });
    }
    // Every proxy has its stream open before the change (else it would be seen on reconnect).
    await waitUntil(async () => (await Promise.all(proxies.map(identityOfProxy))).every((i) => i.issuer_status === 'stream'), 'every issuer status stream open');
    const pids = proxies.map((p) => p.child.pid);

    r.setIssuer(second, first.anchor.certPem);
    await waitForIssuer(proxies, second.issuerCert.fingerprint256, 'every leaf from the new issuer', 30_000);
    const reloaded = r.mesh.identity.logs.where({ msg: 'issuer reloaded' });
    expect(reloaded).toHaveLength(1);
    const reloadedAt = Date.parse(String(reloaded[0].time));

    for (const p of proxies) {
      // The Certify call started within the window of the service's reload (the call itself,
      // slow on a loaded machine, is not part of the window).
      const refreshed = p.where({ event: 'identity_refreshed', cause: 'issuer-changed' })[0];
      expect(Date.parse(String(refreshed.time)) - Number(refreshed.duration_ms) - reloadedAt).toBeLessThan(WINDOW_MS + 500);
      expect(p.where({ event: 'issuer_change_seen' })).toHaveLength(1);
      expect(p.where({ event: 'identity_refreshed', cause: 'issuer-changed' })).toHaveLength(1);
      expect(p.where({ event: 'issuer_changed' })[0]).toMatchObject({ from: first.issuerCert.fingerprint256, to: second.issuerCert.fingerprint256 });
      expect(p.where({ event: 'proxy_ready' })).toHaveLength(1);
      expect(await metric(p.admin, 'lanyard_proxy_identity_reissues_total', { cause: 'issuer-changed' })).toBe(1);
      expect(await metric(p.admin, 'lanyard_proxy_identity_cert_issuer_info', { fingerprint: second.issuerCert.fingerprint256 })).toBe(1);
      expect(await metric(p.admin, 'lanyard_proxy_identity_cert_issuer_info', { fingerprint: first.issuerCert.fingerprint256 })).toBe(0);
    }
    expect(proxies.map((p) => p.child.pid)).toEqual(pids);
    expect(proxies.every((p) => p.alive())).toBe(true);
  } finally {
    await r.mesh.stop();
  }
}, 60_000);
