import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { TrustBundle } from '../../../src/pki/trust-bundle.js';
import { createTestPki } from '../../support/test-ca.js';
import { createIssuer } from '../../../certs/ca.js';

test('ok/issuer chains to one of several anchors; the anchor is excluded from the path', async () => {
  const a = await createTestPki();
  const b = await createTestPki();
  const bundle = TrustBundle.fromPem(b.anchor.certPem + a.anchor.certPem);
  const r = bundle.verify([a.issuerCert], new Date());
  expect(r.anchor.fingerprint256).toBe(a.anchorCert.fingerprint256);
  expect(r.path.map((c) => c.fingerprint256)).toEqual([a.issuerCert.fingerprint256]);
});

test('ok/the anchor itself', async () => {
  const a = await createTestPki();
  const r = TrustBundle.fromPem(a.anchor.certPem).verify([a.anchorCert], new Date());
  expect(r.path).toEqual([]);
});

test('fail/foreign issuer', async () => {
  const a = await createTestPki();
  const b = await createTestPki();
  expect(() => TrustBundle.fromPem(a.anchor.certPem).verify([b.issuerCert], new Date())).toThrow(/does not chain to any trust anchor/);
});

test('fail/expired and not-yet-valid', async () => {
  const a = await createTestPki();
  const bundle = TrustBundle.fromPem(a.anchor.certPem);
  expect(() => bundle.verify([a.issuerCert], new Date(Date.now() + 400 * 86_400_000))).toThrow(/expired at/);
  expect(() => bundle.verify([a.issuerCert], new Date(Date.now() - 86_400_000))).toThrow(/not valid before/);
});

test('fail/an intermediate below an issuer with path length 0', async () => {
  const a = await createTestPki();
  // a second CA signed by the issuer (pathlen 0 forbids it)
  const sub = await createIssuer({ commonName: 'sub-issuer', caCertPem: a.issuer.certPem, caKeyPem: a.issuer.keyPem });
  const bundle = TrustBundle.fromPem(a.anchor.certPem);
  expect(() => bundle.verify([new X509Certificate(sub.certPem), a.issuerCert], new Date())).toThrow(/has path length 0 but 1 CA certificates follow it/);
});

test('fail/a CA certificate whose KeyUsage lacks keyCertSign cannot sign', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tb-'));
  try {
    const o = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    o(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', '/CN=root', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,digitalSignature']);
    o(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'i.key', '-out', 'i.csr', '-subj', '/CN=issuer']);
    writeFileSync(join(dir, 'ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n');
    o(['x509', '-req', '-in', 'i.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'i.crt', '-extfile', 'ext', '-days', '2']);
    expect(() => TrustBundle.fromPem(readFileSync(join(dir, 'ca.crt'), 'utf8'))).toThrow(/trust anchor CN=root is not a CA certificate/);
    // As an intermediate in a chain it is refused too.
    const good = TrustBundle.fromPem(readFileSync(join(dir, 'i.crt'), 'utf8'));
    expect(() => good.verify([new X509Certificate(readFileSync(join(dir, 'i.crt'))), new X509Certificate(readFileSync(join(dir, 'ca.crt')))], new Date())).toThrow(/signs another certificate but is not a CA/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fail/non-CA anchor and empty bundle', async () => {
  expect(() => TrustBundle.fromPem('')).toThrow(/no PEM CERTIFICATE/);
  const dir = mkdtempSync(join(tmpdir(), 'tb-'));
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k', '-out', 'c', '-subj', '/CN=leaf', '-addext', 'basicConstraints=critical,CA:FALSE'], { cwd: dir, stdio: 'ignore' });
    expect(() => TrustBundle.fromPem(readFileSync(join(dir, 'c'), 'utf8'))).toThrow(/is not a CA certificate/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
