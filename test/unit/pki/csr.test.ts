import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildCsr, parseCsr, verifyCsr, checkCsrNames } from '../../../src/pki/csr.js';
import { OID } from '../../../src/pki/oids.js';
import { buildTestCsr } from '../../support/csr-builder.js';

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
    await expect(verifyCsr(csr)).resolves.toBeUndefined();
  });

  test('ok/openssl-request', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'csr-'));
    try {
      execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', join(dir, 'k'), '-subj', `/CN=${ID}`, '-addext', `subjectAltName=DNS:${ID}`, '-outform', 'der', '-out', join(dir, 'r.der')], { stdio: 'ignore' });
      const csr = parseCsr(execFileSync('cat', [join(dir, 'r.der')]));
      await verifyCsr(csr);
      expect(() => checkCsrNames(csr, ID)).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('fail/point-not-on-curve', async () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const csr = parseCsr(buildCsr(ID, kp.privateKey, kp.publicKey));
    const bad = Buffer.from(csr.publicKey);
    bad[40] ^= 1;
    await expect(verifyCsr({ ...csr, publicKey: bad })).rejects.toMatchObject({ code: 'ERR_CSR_MALFORMED', message: expect.stringMatching(/not a valid P-256 point/) });
  });

  test('fail/a-certificate-is-not-a-request', () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    void kp;
    const cert = new X509Certificate(execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', '/dev/null', '-subj', '/CN=x', '-outform', 'der'], { stdio: ['ignore', 'pipe', 'ignore'] }));
    expect(() => parseCsr(cert.raw)).toThrow(/certificate_signing_request/);
  });
});
