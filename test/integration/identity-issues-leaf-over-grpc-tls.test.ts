import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';
import { workloadCsr } from '../support/test-ca.js';
import { encodePem } from '../../src/pki/pem.js';
import { fromTimestamp } from '../../src/proto/index.js';

describe('identity service issues a workload leaf over real gRPC + TLS', () => {
  let h: IdentityHarness;
  beforeAll(async () => {
    h = await startIdentity();
  });
  afterAll(() => h.stop());

  test('leaf carries the DNS identity and SPIFFE ID, chains to the anchor, and is audited', async () => {
    const identity = 'web.default.serviceaccount.identity.lanyard.cluster.local';
    const token = await h.tokens.mint('default', 'web');
    const { csr } = workloadCsr(identity);
    const before = Date.now();
    const res = await h.client().certify(identity, token, csr);

    const leaf = new X509Certificate(res.leaf_certificate);
    expect(leaf.subjectAltName).toBe(`DNS:${identity}, URI:spiffe://cluster.local/ns/default/sa/web`);
    expect(leaf.ca).toBe(false);
    expect(res.intermediate_certificates).toHaveLength(1);
    expect(Buffer.from(res.intermediate_certificates[0]).equals(h.pki.issuerCert.raw)).toBe(true);
    expect(leaf.verify(h.pki.issuerCert.publicKey)).toBe(true);
    expect(leaf.checkIssued(h.pki.issuerCert)).toBe(true);

    const notBefore = Date.parse(leaf.validFrom);
    const notAfter = Date.parse(leaf.validTo);
    expect(notBefore).toBeLessThanOrEqual(before - 19_000);
    expect(notBefore).toBeGreaterThanOrEqual(before - 22_000);
    expect(notAfter - before).toBeGreaterThan(86_400_000 - 5_000);
    expect(notAfter - before).toBeLessThanOrEqual(86_400_000 + 1_000);
    expect(fromTimestamp(res.valid_until!).getTime()).toBe(notAfter);

    // openssl agrees the chain verifies to the anchor with the leaf usable for TLS both ways.
    const leafPath = join(h.dir, 'leaf.pem');
    const chainPath = join(h.dir, 'chain.pem');
    const caPath = join(h.dir, 'ca.pem');
    writeFileSync(leafPath, encodePem('CERTIFICATE', res.leaf_certificate));
    writeFileSync(chainPath, res.intermediate_certificates.map((c) => encodePem('CERTIFICATE', c)).join(''));
    writeFileSync(caPath, h.pki.anchor.certPem);
    for (const purpose of ['sslserver', 'sslclient']) {
      const out = execFileSync('openssl', ['verify', '-purpose', purpose, '-CAfile', caPath, '-untrusted', chainPath, leafPath]).toString();
      expect(out.trim()).toBe(`${leafPath}: OK`);
    }

    const audit = h.logs.where({ event: 'certify', result: 'ok', grpc_status: 'OK' });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      identity,
      namespace: 'default',
      service_account: 'web',
      reason: 'issued',
      serial: leaf.serialNumber,
      not_after: new Date(notAfter).toISOString(),
    });
    expect(String(audit[0].peer)).toMatch(/127\.0\.0\.1/);
    expect(h.logs.raw.join('\n')).not.toContain(token);
  });
});
