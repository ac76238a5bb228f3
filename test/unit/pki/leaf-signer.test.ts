import 'reflect-metadata';
import { createPublicKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as x509 from '@peculiar/x509';
import { ecPublicKeyOf } from '../../../src/pki/ec-key.js';
import { LeafSigner } from '../../../src/pki/leaf-signer.js';
import { leafValidity } from '../../../src/pki/validity.js';
import { createTestPki } from '../../support/test-ca.js';

const golden = join(dirname(fileURLToPath(import.meta.url)), 'golden');
const ID = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const SPIFFE = 'spiffe://cluster.local/ns/default/sa/web';

function workloadKey() {
  return { key: ecPublicKeyOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey) };
}

test('ok/golden TBSCertificate for fixed inputs', () => {
  const issuer = new X509Certificate(readFileSync(join(golden, 'issuer.crt')));
  const signer = new LeafSigner(issuer.raw, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey);
  const key = ecPublicKeyOf(createPublicKey(readFileSync(join(golden, 'workload-public.pem'))));
  const tbs = signer.encodeTbs(
    { key, dnsName: ID, spiffeId: SPIFFE, notBefore: new Date('2026-01-02T03:04:05Z'), notAfter: new Date('2026-01-03T03:04:05Z') },
    Buffer.from('00112233445566778899aabbccddeeff', 'hex'),
  );
  expect(tbs.toString('hex')).toBe(readFileSync(join(golden, 'leaf-tbs.hex'), 'utf8').trim());
});

describe('issued leaf profile, read back by an independent decoder (@peculiar/x509)', () => {
  test('ok/profile', async () => {
    const pki = await createTestPki();
    const signer = new LeafSigner(pki.issuerCert.raw, pki.issuerKey);
    const key = workloadKey();
    const window = leafValidity(Date.now(), 86_400_000, 20_000, signer.notAfter);
    const { der, serial } = await signer.sign({ ...key, dnsName: ID, spiffeId: SPIFFE, ...window });
    const cert = new x509.X509Certificate(der);
    const node = new X509Certificate(der);

    expect(node.serialNumber).toBe(serial);
    expect(serial.length).toBeLessThanOrEqual(32);
    expect(cert.subject).toBe('');
    expect(cert.issuer).toBe('CN=identity.lanyard.cluster.local');
    expect(node.verify(pki.issuerCert.publicKey)).toBe(true);

    const ku = cert.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.critical).toBe(true);
    expect(ku.usages).toBe(x509.KeyUsageFlags.digitalSignature);
    const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)!;
    expect(eku.usages).toEqual([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]);
    const bc = cert.getExtension(x509.BasicConstraintsExtension)!;
    expect(bc.ca).toBe(false);
    expect(bc.critical).toBe(true);
    const san = cert.getExtension(x509.SubjectAlternativeNameExtension)!;
    expect(san.critical).toBe(true);
    expect(san.names.toJSON()).toEqual([
      { type: 'dns', value: ID },
      { type: 'url', value: SPIFFE },
    ]);
    const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension)!;
    const aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension)!;
    const issuerSki = new x509.X509Certificate(pki.issuerCert.raw).getExtension(x509.SubjectKeyIdentifierExtension)!;
    expect(aki.keyId).toBe(issuerSki.keyId);
    expect(ski.keyId).toMatch(/^[0-9a-f]{40}$/);
    expect(cert.notBefore.getTime()).toBe(window.notBefore.getTime());
    expect(cert.notAfter.getTime()).toBe(window.notAfter.getTime());
  });

  test('ok/serials are random and positive', async () => {
    const pki = await createTestPki();
    const signer = new LeafSigner(pki.issuerCert.raw, pki.issuerKey);
    const key = workloadKey();
    const window = leafValidity(Date.now(), 3_600_000, 20_000, signer.notAfter);
    const serials = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { der, serial } = await signer.sign({ ...key, dnsName: ID, spiffeId: SPIFFE, ...window });
      serials.add(serial);
      const raw = new x509.X509Certificate(der).serialNumber;
      expect(BigInt('0x' + raw) > 0n).toBe(true);
    }
    expect(serials.size).toBe(200);
  });

  test('ok/P-384 issuer signs with ecdsa-with-SHA384', async () => {
    const pki = await createTestPki({ curve: 'P-384' });
    const signer = new LeafSigner(pki.issuerCert.raw, pki.issuerKey);
    const window = leafValidity(Date.now(), 3_600_000, 20_000, signer.notAfter);
    const { der } = await signer.sign({ ...workloadKey(), dnsName: ID, spiffeId: SPIFFE, ...window });
    expect(new x509.X509Certificate(der).signatureAlgorithm).toMatchObject({ name: 'ECDSA', hash: { name: 'SHA-384' } });
    expect(new X509Certificate(der).verify(pki.issuerCert.publicKey)).toBe(true);
  });

  test('fail/RSA issuer key is refused', async () => {
    const pki = await createTestPki();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    expect(() => new LeafSigner(pki.issuerCert.raw, rsa)).toThrow(/issuer key must be ECDSA P-256 or P-384, found rsa/);
  });
});

describe('leafValidity', () => {
  const now = Date.parse('2026-11-21T10:00:00.500Z');
  test.each([
    ['ok/backdated-and-24h', 86_400_000, 20_000, '2030-01-01T00:00:00Z', '2026-11-21T09:59:40.000Z', '2026-11-22T10:00:00.000Z'],
    ['ok/clamped-to-issuer-not-after', 86_400_000, 20_000, '2026-11-21T12:00:00Z', '2026-11-21T09:59:40.000Z', '2026-11-21T12:00:00.000Z'],
    ['ok/zero-skew', 3_600_000, 0, '2030-01-01T00:00:00Z', '2026-11-21T10:00:00.000Z', '2026-11-21T11:00:00.000Z'],
  ])('%s', (_n, lifetime, skew, issuerNotAfter, nb, na) => {
    const w = leafValidity(now, lifetime, skew, new Date(issuerNotAfter));
    expect(w.notBefore.toISOString()).toBe(nb);
    expect(w.notAfter.toISOString()).toBe(na);
  });
});
