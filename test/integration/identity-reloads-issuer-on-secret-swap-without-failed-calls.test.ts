/**
 * An issuer rotated through a Kubernetes Secret volume (atomic `..data` symlink swap) is
 * picked up while Certify calls run concurrently, and not one call fails.
 */
import { X509Certificate } from 'node:crypto';
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';
import { createTestPki, workloadCsr, type TestPki } from '../support/test-ca.js';
import { writeSecretVolume } from '../support/secret-volume.js';
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
    await new Promise((r) => setTimeout(r, 700));
    writeSecretVolume(dir, volume(second));
    const deadline = Date.now() + 5000;
    while (!seen.has('CN=issuer-b') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    stop = true;
    await Promise.all(workers);

    expect(failures).toBe(0);
    expect(calls).toBeGreaterThan(50);
    expect(seen.get('CN=issuer-a')).toBeGreaterThan(0);
    expect(seen.get('CN=issuer-b')).toBeGreaterThan(0);
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
