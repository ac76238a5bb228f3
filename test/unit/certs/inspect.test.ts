import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertsError } from '../../../certs/errors.js';
import { inspectBytes, inspectFile, type InspectReport } from '../../../certs/inspect.js';
import { formatInspectReport } from '../../../certs/inspect-text.js';
import { buildCsr } from '../../../src/pki/csr.js';
import { encodePem } from '../../../src/pki/pem.js';
import { TrustBundle } from '../../../src/pki/trust-bundle.js';
import { anchor, daysAgo, inTempDir, issuer, leaf, type Ca } from './certs-fixtures.js';

const IDENTITY = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const SPIFFE = 'spiffe://cluster.local/ns/default/sa/web';

let root: Ca;
let otherRoot: Ca;
let iss: Ca;
let leafCert: X509Certificate;
let leafKeyPem: string;
let expiredRoot: Ca;
let futureRoot: Ca;

beforeAll(async () => {
  [root, otherRoot] = await Promise.all([anchor(), anchor('root.other.example')]);
  iss = await issuer(root);
  ({ cert: leafCert, keyPem: leafKeyPem } = await leaf(iss));
  expiredRoot = await anchor('root-expired', { notBefore: daysAgo(10), days: 1 });
  futureRoot = await anchor('root-future', { notBefore: new Date(Date.now() + 86_400_000), days: 1 });
});

const inspectPem = (pem: string, bundle?: Ca[]) =>
  inspectBytes(Buffer.from(pem), 'test.pem', bundle ? { bundle: { path: 'bundle.pem', trust: TrustBundle.fromPem(bundle.map((b) => b.certPem).join('')) } } : {});

describe('inspect: certificate fields', () => {
  test('ok/anchor', async () => {
    const [c] = (await inspectPem(root.certPem)).certificates;
    expect(c).toMatchObject({
      index: 1,
      subject: 'CN=root.lanyard.cluster.local',
      issuer: 'CN=root.lanyard.cluster.local',
      serialNumber: root.cert.serialNumber.toUpperCase(),
      isCa: true,
      pathLength: null,
      selfSigned: true,
      keyUsage: ['keyCertSign', 'cRLSign'],
      extendedKeyUsage: null,
      publicKey: { algorithm: 'EC', curve: 'P-256', bits: 256 },
      signatureAlgorithm: 'ECDSA with SHA-256',
      fingerprintSha256: root.cert.fingerprint256,
      authorityKeyId: null,
      status: 'valid',
    });
    expect(c.subjectKeyId).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    expect(c.secondsRemaining).toBeGreaterThan(29 * 86_400);
  });

  test('ok/issuer: path length 0, AKI is the anchor SKI', async () => {
    const [anchorReport, issuerReport] = await Promise.all([inspectPem(root.certPem), inspectPem(iss.certPem)]);
    const c = issuerReport.certificates[0];
    expect(c).toMatchObject({ isCa: true, pathLength: 0, selfSigned: false, issuer: 'CN=root.lanyard.cluster.local' });
    expect(c.authorityKeyId).toBe(anchorReport.certificates[0].subjectKeyId);
  });

  test('ok/leaf: SANs, SPIFFE ID, usages', async () => {
    const [c] = (await inspectPem(leafCert.toString())).certificates;
    expect(c).toMatchObject({
      subject: expect.stringContaining('empty subject'),
      sans: { dns: [IDENTITY], uri: [SPIFFE], ip: [], email: [] },
      spiffeId: SPIFFE,
      isCa: false,
      pathLength: null,
      keyUsage: ['digitalSignature'],
      extendedKeyUsage: ['serverAuth', 'clientAuth'],
    });
  });

  test('ok/chain file lists every certificate in order', async () => {
    const r = await inspectPem(leafCert.toString() + iss.certPem);
    expect(r.certificates.map((c) => c.index)).toEqual([1, 2]);
    expect(r.certificates[1].subject).toBe('CN=identity.lanyard.cluster.local');
  });

  test('ok/DER certificate', async () => {
    const r = await inspectBytes(root.cert.raw, 'ca.der');
    expect(r.format).toBe('DER');
    expect(r.certificates[0].fingerprintSha256).toBe(root.cert.fingerprint256);
  });

  test.each([
    ['fail/expired', () => expiredRoot, 'expired', /certificate 1 \(CN=root-expired\) expired at/],
    ['fail/not-yet-valid', () => futureRoot, 'not-yet-valid', /is not valid before/],
  ] as const)('%s', async (_name, ca, status, problem) => {
    const r = await inspectPem(ca().certPem);
    expect(r.certificates[0].status).toBe(status);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.stringMatching(problem)]);
  });

  test('fail/expired certificate shows EXPIRED in the text output', async () => {
    expect(formatInspectReport(await inspectPem(expiredRoot.certPem))).toMatch(/Not after: +\S+ \(EXPIRED \d+d \d+h ago\)/);
  });
});

describe('inspect: chain check against a bundle', () => {
  test.each([
    ['ok/leaf+issuer to anchor', () => leafCert.toString() + iss.certPem, () => [root]],
    ['ok/issuer alone', () => iss.certPem, () => [root]],
    ['ok/anchor is in a multi-anchor bundle', () => iss.certPem, () => [otherRoot, root]],
  ] as const)('%s', async (_name, pem, bundle) => {
    const r = await inspectPem(pem(), bundle());
    expect(r.chain).toEqual({
      bundle: 'bundle.pem',
      ok: true,
      anchor: { subject: 'CN=root.lanyard.cluster.local', fingerprintSha256: root.cert.fingerprint256 },
      error: null,
    });
    expect(r.ok).toBe(true);
  });

  test.each([
    ['fail/foreign anchor', () => iss.certPem, () => [otherRoot], /does not chain to any trust anchor/],
    ['fail/leaf without its issuer', () => leafCert.toString(), () => [root], /does not chain to any trust anchor/],
    ['fail/wrong order', () => iss.certPem + leafCert.toString(), () => [root], /is not a CA|is not signed by/],
  ] as const)('%s', async (_name, pem, bundle, error) => {
    const r = await inspectPem(pem(), bundle());
    expect(r.chain?.ok).toBe(false);
    expect(r.chain?.error).toMatch(error);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([expect.stringMatching(/^chain check against bundle\.pem failed: /)]);
    expect(formatInspectReport(r)).toMatch(/Chain check against bundle\.pem: FAILED: /);
  });

  test('fail/--bundle on a key file is refused', async () => {
    await expect(inspectPem(leafKeyPem, [root])).rejects.toThrow(/--bundle: test\.pem holds no certificate to chain-check/);
  });
});

describe('inspect: keys and CSRs', () => {
  test('ok/private key is described, never printed, and matched to its certificate', async () => {
    const r = await inspectPem(leafCert.toString() + leafKeyPem);
    expect(r.keys).toEqual([
      { index: 1, kind: 'private', encrypted: false, key: { algorithm: 'EC', curve: 'P-256', bits: 256, sha256: r.certificates[0].publicKey.sha256 }, matchesCertificate: 1 },
    ]);
    const body = leafKeyPem.split('\n')[1];
    expect(JSON.stringify(r)).not.toContain(body);
    expect(formatInspectReport(r)).not.toContain(body);
  });

  test.each([
    ['ok/rsa pkcs1', () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), { algorithm: 'RSA', curve: null, bits: 2048 }],
    ['ok/ec sec1 P-384', () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString(), { algorithm: 'EC', curve: 'P-384', bits: 384 }],
    ['ok/ed25519', () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), { algorithm: 'Ed25519', curve: null, bits: 256 }],
  ] as const)('%s', async (_name, pem, key) => {
    const r = await inspectPem(pem());
    expect(r.keys[0]).toMatchObject({ kind: 'private', encrypted: false, key, matchesCertificate: null });
    expect(r.ok).toBe(true);
  });

  test('ok/encrypted key is reported as encrypted', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256', privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'test' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
    const r = await inspectPem(privateKey);
    expect(r.keys[0]).toEqual({ index: 1, kind: 'private', encrypted: true, key: null, matchesCertificate: null });
  });

  test('ok/CSR: subject, SANs, key and signature', async () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const csr = buildCsr(IDENTITY, kp.privateKey, kp.publicKey);
    const r = await inspectPem(encodePem('CERTIFICATE REQUEST', csr));
    expect(r.csrs).toEqual([
      {
        index: 1,
        subject: '(empty subject)',
        sans: { dns: [IDENTITY], uri: [], ip: [], email: [] },
        publicKey: expect.objectContaining({ algorithm: 'EC', curve: 'P-256' }),
        signatureAlgorithm: 'ECDSA with SHA-256',
        signatureValid: true,
      },
    ]);
    const der = await inspectBytes(csr, 'csr.der');
    expect(der.csrs).toHaveLength(1);
  });

  test('fail/CSR with a broken signature', async () => {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const csr = buildCsr(IDENTITY, kp.privateKey, kp.publicKey);
    csr[csr.length - 5] ^= 0x01;
    const r = await inspectPem(encodePem('CERTIFICATE REQUEST', csr));
    expect(r.csrs[0].signatureValid).toBe(false);
    expect(r.problems).toEqual(['CSR 1: its self-signature does not verify']);
  });
});

describe('inspect: unusable input', () => {
  test.each([
    ['fail/garbage', Buffer.from('not a certificate'), /neither PEM nor a DER certificate, CSR or key/],
    ['fail/only-unknown-blocks', Buffer.from(encodePem('EC PARAMETERS', Buffer.from([6, 8, 42, 134, 72, 206, 61, 3, 1, 7]))), /holds no certificate, CSR or key \(found only EC PARAMETERS\)/],
    ['fail/corrupt-certificate-block', Buffer.from(encodePem('CERTIFICATE', Buffer.from('nonsense'))), /CERTIFICATE block in f\.pem is not a valid X\.509/],
  ])('%s', async (_name, data, message) => {
    const run = inspectBytes(data, 'f.pem');
    await expect(run).rejects.toThrow(CertsError);
    await expect(inspectBytes(data, 'f.pem')).rejects.toThrow(message);
  });

  test('fail/missing file and non-CA bundle name the option', () =>
    inTempDir(async (dir) => {
      await expect(inspectFile(join(dir, 'nope.crt'))).rejects.toThrow(/^FILE: .*nope\.crt does not exist$/);
      writeFileSync(join(dir, 'leaf.crt'), leafCert.toString());
      writeFileSync(join(dir, 'iss.crt'), iss.certPem);
      await expect(inspectFile(join(dir, 'iss.crt'), { bundlePath: join(dir, 'leaf.crt') })).rejects.toThrow(/^--bundle .*leaf\.crt: trust anchor .* is not a CA certificate$/);
    }));
});

describe('inspect: text output', () => {
  test('ok/lists the fields an operator looks for', async () => {
    const r: InspectReport = await inspectPem(leafCert.toString() + iss.certPem, [root]);
    const text = formatInspectReport(r);
    for (const label of ['Subject:', 'Issuer:', 'Serial:', 'DNS SANs:', 'URI SANs:', 'Not before:', 'Not after:', 'Public key:', 'CA:', 'Key usage:', 'SHA-256:', 'Subject key ID:', 'Authority key ID:']) {
      expect(text).toContain(label);
    }
    expect(text).toContain(`${SPIFFE} (SPIFFE)`);
    expect(text).toMatch(/CA: +yes, path length 0/);
    expect(text).toMatch(/remaining\)/);
    expect(text).toMatch(/Chain check against bundle\.pem: OK/);
  });
});
