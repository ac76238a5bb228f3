/**
 * The rotation metrics, after an anchor rotation (both anchors → issuer from the new one →
 * new only): every proxy exports the anchors in use (count, earliest expiry), the leaf's
 * expiry, the issuer of its leaf as an info metric, re-issues by cause, bundle reloads, the
 * identity service's clock skew and anchor drains; the identity service exports bundle and
 * issuer reloads by result, skew observations and its open status streams. Both pass
 * `promtool check metrics`.
 */
import { metric, waitUntil } from '../support/mesh-harness.js';
import { promtool, promtoolTest } from '../support/promtool.js';
import { identityOfProxy, startRotationMesh, waitForIssuer } from '../support/rotation.js';
import { createTestPki } from '../support/test-ca.js';

promtoolTest('rotation metrics of proxies and identity service, with samples, pass promtool', async () => {
  const oldPki = await createTestPki({ anchorCn: 'root-old', issuerCn: 'issuer-old', anchorDays: 30 });
  const newPki = await createTestPki({ anchorCn: 'root-new', issuerCn: 'issuer-new', anchorDays: 60 });
  const both = oldPki.anchor.certPem + newPki.anchor.certPem;
  const r = await startRotationMesh(oldPki);
  try {
    const env = { LANYARD_PROXY_TRUST_ANCHORS: r.bundleFile, LANYARD_PROXY_REISSUE_WINDOW: '1s' };
    const { api, web } = await r.mesh.pair({ appPort: await r.mesh.app('api'), apiEnv: env, webEnv: env });
    r.setIssuer(oldPki, both);
    r.setProxyBundle(both);
    await waitUntil(async () => (await metric(web.admin, 'lanyard_proxy_trust_anchors')) === 2 && (await metric(api.admin, 'lanyard_proxy_trust_anchors')) === 2, 'both anchors in use');
    expect(await metric(web.admin, 'lanyard_proxy_trust_anchors_earliest_expiry_timestamp_seconds')).toBe(Math.floor(Date.parse(oldPki.anchorCert.validTo) / 1000));
    r.setIssuer(newPki, both);
    await waitForIssuer([api, web], newPki.issuerCert.fingerprint256, 'leaves from the new issuer');
    r.setProxyBundle(newPki.anchor.certPem);
    r.setIssuer(newPki, newPki.anchor.certPem);
    await waitUntil(async () => (await metric(web.admin, 'lanyard_proxy_trust_anchors')) === 1 && (await metric(api.admin, 'lanyard_proxy_trust_anchors')) === 1, 'only the new anchor in use');

    for (const p of [api, web]) {
      const report = await identityOfProxy(p);
      const text = await (await fetch(`http://127.0.0.1:${p.admin}/metrics`)).text();
      expect(await metric(p.admin, 'lanyard_proxy_trust_anchors_earliest_expiry_timestamp_seconds')).toBe(Math.floor(Date.parse(newPki.anchorCert.validTo) / 1000));
      expect(await metric(p.admin, 'identity_cert_expiration_timestamp_seconds')).toBe(Math.floor(Date.parse((report as unknown as { not_after: string }).not_after) / 1000));
      expect(text).toMatch(new RegExp(`^lanyard_proxy_identity_cert_issuer_info\\{fingerprint="${newPki.issuerCert.fingerprint256}",subject="CN=issuer-new"\\} 1$`, 'm'));
      expect(text.match(/^lanyard_proxy_identity_cert_issuer_info\{/gm)).toHaveLength(1);
      expect(await metric(p.admin, 'lanyard_proxy_identity_reissues_total', { cause: 'issuer-changed' })).toBeGreaterThanOrEqual(1);
      expect(await metric(p.admin, 'lanyard_proxy_trust_bundle_reloads_total', { result: 'ok' })).toBe(2);
      expect(text).toMatch(/^lanyard_proxy_identity_service_clock_skew_seconds -?\d/m);
      expect(text).toMatch(/^# TYPE lanyard_proxy_anchor_drains_total counter$/m);
      const lint = await promtool(['check', 'metrics'], text);
      expect({ proxy: p.name, lint: `${lint.stdout}${lint.stderr}`, code: lint.code }).toEqual({ proxy: p.name, lint: '', code: 0 });
    }

    await waitUntil(async () => /lanyard_identity_trust_bundle_reloads_total\{result="ok"\} 3/.test(await r.mesh.identity.service.registry.metrics()), 'the service counted its bundle reloads');
    const text = await r.mesh.identity.service.registry.metrics();
    expect(text).toMatch(/^lanyard_identity_issuer_reloads_total\{result="ok"\} 2$/m);
    expect(text).toMatch(/^lanyard_identity_trust_bundle_reloads_total\{result="refused"\} 0$/m);
    expect(text).toMatch(/^lanyard_identity_client_clock_skew_seconds_count [1-9]/m);
    expect(text).toMatch(/^lanyard_identity_issuer_watch_streams 2$/m);
    const lint = await promtool(['check', 'metrics'], text);
    expect({ lint: `${lint.stdout}${lint.stderr}`, code: lint.code }).toEqual({ lint: '', code: 0 });
  } finally {
    await r.mesh.stop();
  }
}, 90_000);
