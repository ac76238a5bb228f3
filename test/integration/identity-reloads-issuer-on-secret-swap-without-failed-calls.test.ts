/**
 * An issuer rotated through a Kubernetes Secret volume (atomic `..data` symlink swap) is
 * picked up while Certify calls run concurrently, and not one call fails.
 */
import { X509Certificate } from 'node:crypto';
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';
import { createTestPki, workloadCsr, type TestPki } from '../support/test-ca.js';
import { writeSecretVolume } from '../support/secret-volume.js';
import { waitUntil } from '../support/mesh-harness.js';
import { join } from 'node:path';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

const volume = (p: TestPki) => ({ 'tls.crt': p.issuer.certPem, 'tls.key': p.issuer.keyPem, 'ca.crt': p.anchor.certPem });

test('issuer swap under load: zero failed calls, both issuers observed, reload counted', async () => {
  const first = await createTestPki({ issuerCn: 'issuer-a' });
  const second = await createTestPki({ anchor: first.anchor, issuerCn: 'issuer-b' });
  const dir = join(mkdtempSync(join(tmpdir(), 'lanyard-swap-')), 'issuer');
  writeSecretVolume(dir, volume(first));
  const h: IdentityHarness = await startIdentity({ pki: first, issuerDir: dir, pollIntervalMs: 200 });
  try {
    const identity = 'web.default.serviceaccount.identity.lanyard.cluster.local';
    const token = await h.tokens.mint('default', 'web');
    const client = h.client();
    const csrs = Array.from({ length: 16 }, () => workloadCsr(identity).csr);
    const seen = new Map<string, number>();
    let failures = 0;
    let calls = 0;
    let stop = false;
    const worker = async (w: number) => {
      while (!stop) {
        try {
          const res = await client.certify(identity, token, csrs[(calls + w) % csrs.length]);
          const issuer = new X509Certificate(res.leaf_certificate).issuer;
          seen.set(issuer, (seen.get(issuer) ?? 0) + 1);
        } catch {
          failures++;
        }
        calls++;
      }
    };
    const workers = Array.from({ length: 8 }, (_, i) => worker(i));
    // The swap lands while calls run: some before it, the swap itself, and more after it, each
    // counted by call, not by time.
    await waitUntil(() => (seen.get('CN=issuer-a') ?? 0) >= 30, '30 certificates from the first issuer', 20_000);
    writeSecretVolume(dir, volume(second));
    await waitUntil(() => seen.has('CN=issuer-b'), 'a certificate from the new issuer', 10_000);
    const atSwap = calls;
    await waitUntil(() => calls >= atSwap + 30, '30 more calls after the swap', 20_000);
    stop = true;
    await Promise.all(workers);

    expect(failures).toBe(0);
    // After the first certificate from the new issuer, only calls already in flight (one per
    // worker) may still carry the old one.
    expect(seen.get('CN=issuer-b')).toBeGreaterThanOrEqual(30 - 8);
    expect(h.logs.where({ event: 'issuer_rejected' })).toHaveLength(0);
    expect(h.logs.where({ msg: 'issuer reloaded' })).toHaveLength(1);
    const metrics = await h.service.registry.metrics();
    expect(metrics).toMatch(/lanyard_identity_issuer_reloads_total\{result="ok"\} 2/);
    // The service's own serving certificate moved to the new issuer too.
    expect(h.logs.where({ event: 'serving_certificate' }).length).toBeGreaterThanOrEqual(2);
  } finally {
    await h.stop();
  }
});
