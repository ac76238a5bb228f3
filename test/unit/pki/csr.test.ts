import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCsr, parseCsr, verifyCsr, checkCsrNames, type CsrSignatureVerifier, type ParsedCsr } from '../../../src/pki/csr.js';
import { ecPublicKeyOf } from '../../../src/pki/ec-key.js';
import { OID } from '../../../src/pki/oids.js';
import { buildTestCsr } from '../../support/csr-builder.js';
import { loadNative } from '../../../proxy/native/index.js';

// verifyCsr runs once per verifier: node:crypto, and the native addon's when it is built.
const native = loadNative();
const VERIFIERS: [string, CsrSignatureVerifier | undefined][] = [['node', undefined]];
if (native) VERIFIERS.push(['native', native.ecdsaVerify]);

const ID = 'web.default.serviceaccount.identity.lanyard.cluster.local';

describe('buildCsr', () => {
  test.each([['P-256'], ['P-384']] as const)('ok/%s request verifies with openssl and has only the identity SAN', (curve) => {
    const kp = generateKeyPairSync('ec', { namedCurve: curve });
    const csr = buildCsr(ID, kp.privateKey, kp.publicKey);
    const dir = mkdtempSync(join(tmpdir(), 'csr-'));
    try {
      writeFileSync(join(dir, 'r.der'), csr);
      const text = execFileSync('openssl', ['req', '-inform', 'der', '-in', join(dir, 'r.der'), '-noout', '-verify', '-text'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
      expect(text).toContain(`DNS:${ID}`);
      expect(text).not.toMatch(/URI:|IP Address:|email:/);
      expect(text).toMatch(/Subject:\s*\n/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const parsed = parseCsr(csr);
    expect(parsed.curve).toBe(curve === 'P-256' ? OID.prime256v1 : OID.secp384r1);
    expect(parsed.signatureAlgorithm).toBe(curve === 'P-256' ? OID.ecdsaWithSha256 : OID.ecdsaWithSha384);
    expect(parsed.sans).toEqual({ dns: [ID], uri: [], ip: [], email: [], other: 0 });
    expect(parsed.commonNames).toEqual([]);
  });
});

describe('parseCsr reads requests made by another encoder', () => {
  test('ok/peculiar-x509-request with every SAN kind', async () => {
    const csr = parseCsr(await buildTestCsr({ cn: 'x', dns: ['a.example', 'b.example'], ip: ['10.1.2.3'], uri: ['spiffe://td/x'], email: ['a@b.c'] }));
    expect(csr.commonNames).toEqual(['x']);
    expect(csr.sans).toEqual({ dns: ['a.example', 'b.example'], uri: ['spiffe://td/x'], ip: ['10.1.2.3'], email: ['a@b.c'], other: 0 });
  });
  test('fail/a-certificate-is-not-a-request', () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    void kp;
    const cert = new X509Certificate(execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=x', '-outform', 'der'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    expect(() => parseCsr(cert.raw)).toThrow(/certificate_signing_request/);
  });
});

describe.each(VERIFIERS)('verifyCsr with the %s verifier', (_name, verifier) => {
  const p256 = () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return parseCsr(buildCsr(ID, kp.privateKey, kp.publicKey));
  };

  test.each([['P-256'], ['P-384']] as const)('ok/%s-request-from-buildCsr', async (curve) => {
    const kp = generateKeyPairSync('ec', { namedCurve: curve });
    await expect(verifyCsr(parseCsr(buildCsr(ID, kp.privateKey, kp.publicKey)), verifier)).resolves.toEqual(ecPublicKeyOf(kp.publicKey));
  });

  test('ok/peculiar-x509-request', async () => {
    await expect(verifyCsr(parseCsr(await buildTestCsr({ dns: [ID] })), verifier)).resolves.toMatchObject({ curve: 'P-256' });
  });

  test('ok/openssl-request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'csr-'));
    try {
      execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k'), '-subj', `/CN=${ID}`, '-addext', `subjectAltName=DNS:${ID}`, '-outform', 'der', '-out', join(dir, 'r.der')], { stdio: 'ignore' });
      const csr = parseCsr(execFileSync('cat', [join(dir, 'r.der')]));
      await verifyCsr(csr, verifier);
      expect(() => checkCsrNames(csr, ID)).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('fail/point-not-on-curve', async () => {
    const csr = p256();
    const bad = Buffer.from(csr.key!.point);
    bad[40] ^= 1;
    await expect(verifyCsr({ ...csr, key: { curve: 'P-256', point: bad } }, verifier)).rejects.toMatchObject({ code: 'ERR_CSR_MALFORMED', message: expect.stringMatching(/not a valid P-256 point/) });
  });

  test('fail/p384-point-under-p256-curve-oid', async () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const other = parseCsr(buildCsr(ID, kp.privateKey, kp.publicKey));
    await expect(verifyCsr({ ...p256(), key: { curve: 'P-256', point: other.key!.point } }, verifier)).rejects.toMatchObject({ code: 'ERR_CSR_MALFORMED' });
  });

  test.each([
    ['signature-bit-flipped', (c: ParsedCsr) => ({ ...c, signature: flipLast(c.signature) })],
    ['info-bit-flipped', (c: ParsedCsr) => ({ ...c, info: flipLast(c.info) })],
    ['signature-truncated', (c: ParsedCsr) => ({ ...c, signature: c.signature.subarray(0, 10) })],
    ['signature-of-another-request', (c: ParsedCsr) => ({ ...c, signature: p256().signature })],
    ['sha512-claimed-for-sha256-signature', (c: ParsedCsr) => ({ ...c, signatureAlgorithm: OID.ecdsaWithSha512 })],
  ])('fail/%s is ERR_CSR_SIGNATURE', async (_case, mutate) => {
    await expect(verifyCsr(mutate(p256()), verifier)).rejects.toMatchObject({ code: 'ERR_CSR_SIGNATURE', message: expect.stringMatching(/self-signature does not verify/) });
  });

  test('fail/unsupported-signature-algorithm is checked before any verifier', async () => {
    await expect(verifyCsr({ ...p256(), signatureAlgorithm: '1.2.840.113549.1.1.11' }, verifier)).rejects.toMatchObject({ code: 'ERR_CSR_SIGNATURE', message: expect.stringMatching(/not ECDSA with SHA-2/) });
  });

  test.each([['RSA'], ['Ed25519'], ['P-521']] as const)('fail/%s-key is ERR_CSR_KEY_TYPE', async (key) => {
    await expect(verifyCsr(parseCsr(await buildTestCsr({ key, dns: [ID] })), verifier)).rejects.toMatchObject({ code: 'ERR_CSR_KEY_TYPE' });
  });
});

describe('verifyCsr with a CsrSignatureVerifier', () => {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const csr = parseCsr(buildCsr(ID, kp.privateKey, kp.publicKey));

  test('ok/the verifier gets the curve, point, hash, signed bytes and signature', async () => {
    const calls: unknown[][] = [];
    await verifyCsr(csr, (...args) => (calls.push(args), true));
    expect(calls).toEqual([['P-384', csr.key!.point, 'sha384', csr.info, csr.signature]]);
  });

  test('fail/its refusal is ERR_CSR_SIGNATURE for a valid point', async () => {
    await expect(verifyCsr(csr, () => false)).rejects.toMatchObject({ code: 'ERR_CSR_SIGNATURE' });
  });
});

function flipLast(b: Buffer): Buffer {
  const c = Buffer.from(b);
  c[c.length - 1] ^= 0x01;
  return c;
}
