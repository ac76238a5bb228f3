import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkSigningCa, resolveOutputPaths, writeAnchorFiles, writeIssuerFiles } from '../../../certs/ca-files.js';
import { CertsError } from '../../../certs/errors.js';
import { FileExistsError } from '../../../certs/files.js';
import { anchor, daysAgo, inTempDir, issuer, leaf, type Ca } from './certs-fixtures.js';

let root: Ca;
let otherRoot: Ca;
let iss: Ca;
let expiredRoot: Ca;
let leafPem: string;
let leafKeyPem: string;

beforeAll(async () => {
  [root, otherRoot] = await Promise.all([anchor(), anchor('root-other')]);
  iss = await issuer(root);
  expiredRoot = await anchor('root-expired', { notBefore: daysAgo(10), days: 1 });
  const l = await leaf(iss);
  leafPem = l.cert.toString();
  leafKeyPem = l.keyPem;
});

describe('resolveOutputPaths', () => {
  const defaults = { cert: 'ca.crt', key: 'ca.key' };
  test.each([
    ['ok/defaults in cwd', {}, { certPath: 'ca.crt', keyPath: 'ca.key' }],
    ['ok/out-dir', { outDir: 'pki' }, { certPath: 'pki/ca.crt', keyPath: 'pki/ca.key' }],
    ['ok/explicit files', { cert: 'a.pem', key: 'b.pem' }, { certPath: 'a.pem', keyPath: 'b.pem' }],
    ['ok/k8s layout', { outDir: 's', k8sSecretLayout: true }, { certPath: 's/tls.crt', keyPath: 's/tls.key', caPath: 's/ca.crt' }],
  ])('%s', (_name, sel, expected) => {
    expect(resolveOutputPaths(sel, defaults)).toEqual(expected);
  });

  test.each([
    ['fail/cert without key', { cert: 'a.pem' }, /--cert and --key go together/],
    ['fail/key without cert', { key: 'a.pem' }, /--cert and --key go together/],
    ['fail/out-dir with cert', { outDir: 'd', cert: 'a', key: 'b' }, /--out-dir cannot be combined with --cert\/--key/],
    ['fail/k8s with cert', { cert: 'a', key: 'b', k8sSecretLayout: true }, /--k8s-secret-layout cannot be combined/],
    ['fail/same file', { cert: 'x.pem', key: './x.pem' }, /--cert and --key must be different files/],
  ])('%s', (_name, sel, message) => {
    expect(() => resolveOutputPaths(sel, defaults)).toThrow(expect.objectContaining({ code: 'ERR_CERTS_OPTION', message: expect.stringMatching(message) }));
  });
});

describe('checkSigningCa', () => {
  const now = () => new Date();
  test('ok/anchor with its key', () => {
    expect(() => checkSigningCa(root.cert, createPrivateKey(root.keyPem), now())).not.toThrow();
  });

  test.each<[string, () => [X509Certificate, string], RegExp]>([
    ['fail/not a CA', () => [new X509Certificate(leafPem), leafKeyPem], /--ca-cert: .* is not a CA certificate/],
    ['fail/path length 0 (an issuer)', () => [iss.cert, iss.keyPem], /has path length 0 and cannot sign another CA/],
    ['fail/expired', () => [expiredRoot.cert, expiredRoot.keyPem], /--ca-cert: CN=root-expired expired at/],
    ['fail/key of another CA', () => [root.cert, otherRoot.keyPem], /--ca-key: ca\.key is not the private key of --ca-cert CN=root\.lanyard\.cluster\.local/],
    ['fail/RSA key', () => [root.cert, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()], /must be an ECDSA P-256 or P-384 key, found rsa/],
  ])('%s', (_name, input, message) => {
    const [cert, keyPem] = input();
    expect(() => checkSigningCa(cert, createPrivateKey(keyPem), now(), 'ca.key')).toThrow(
      expect.objectContaining({ code: 'ERR_CERTS_CA_INVALID', message: expect.stringMatching(message) }),
    );
  });
});

describe('writeAnchorFiles / writeIssuerFiles', () => {
  const writeRoot = (dir: string) => {
    writeFileSync(join(dir, 'ca.crt'), root.certPem);
    writeFileSync(join(dir, 'ca.key'), root.keyPem, { mode: 0o600 });
  };

  test('ok/anchor: modes, CN, lifetime counted from now, backdated NotBefore', () =>
    inTempDir(async (dir) => {
      const now = new Date('2030-01-01T00:00:00Z');
      const paths = { certPath: join(dir, 'ca.crt'), keyPath: join(dir, 'ca.key') };
      const r = await writeAnchorFiles({ paths, commonName: 'root.test', validityMs: 48 * 3_600_000, now });
      expect(statSync(paths.certPath).mode & 0o777).toBe(0o644);
      expect(statSync(paths.keyPath).mode & 0o777).toBe(0o600);
      expect(r.certificate.subject).toBe('CN=root.test');
      expect(new Date(r.certificate.validTo).toISOString()).toBe('2030-01-03T00:00:00.000Z');
      expect(new Date(r.certificate.validFrom).toISOString()).toBe('2029-12-31T23:59:00.000Z');
      expect(r.certificate.checkPrivateKey(createPrivateKey(readFileSync(paths.keyPath)))).toBe(true);
    }));

  test('ok/issuer clamped to the CA with a note; P-384 on request', () =>
    inTempDir(async (dir) => {
      writeRoot(dir);
      const r = await writeIssuerFiles({
        caCertPath: join(dir, 'ca.crt'),
        caKeyPath: join(dir, 'ca.key'),
        paths: { certPath: join(dir, 'issuer.crt'), keyPath: join(dir, 'issuer.key') },
        commonName: 'identity.test',
        curve: 'P-384',
        validityMs: 1000 * 86_400_000,
      });
      expect(r.certificate.validTo).toBe(root.cert.validTo);
      expect(r.notes).toEqual([expect.stringMatching(/validity clamped to the CA's NotAfter/)]);
      expect(r.certificate.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1');
      expect(r.certificate.verify(root.cert.publicKey)).toBe(true);
    }));

  test('ok/k8s layout writes tls.crt, tls.key and the CA as ca.crt', () =>
    inTempDir(async (dir) => {
      writeRoot(dir);
      const out = join(dir, 'secret');
      const r = await writeIssuerFiles({
        caCertPath: join(dir, 'ca.crt'),
        caKeyPath: join(dir, 'ca.key'),
        paths: resolveOutputPaths({ outDir: out, k8sSecretLayout: true }, { cert: 'issuer.crt', key: 'issuer.key' }),
        commonName: 'identity.test',
      });
      expect(readdirSync(out).sort()).toEqual(['ca.crt', 'tls.crt', 'tls.key']);
      expect(readFileSync(join(out, 'ca.crt'), 'utf8')).toBe(root.cert.toString());
      expect(statSync(join(out, 'tls.key')).mode & 0o777).toBe(0o600);
      expect(r.files.map((f) => f.contents)).toEqual(['certificate', 'private key', 'CA certificate']);
    }));

  test('fail/existing output: nothing is written, nothing is changed', () =>
    inTempDir(async (dir) => {
      writeRoot(dir);
      writeFileSync(join(dir, 'issuer.key'), 'keep me');
      const run = writeIssuerFiles({
        caCertPath: join(dir, 'ca.crt'),
        caKeyPath: join(dir, 'ca.key'),
        paths: { certPath: join(dir, 'issuer.crt'), keyPath: join(dir, 'issuer.key') },
        commonName: 'identity.test',
      });
      await expect(run).rejects.toThrow(FileExistsError);
      expect(existsSync(join(dir, 'issuer.crt'))).toBe(false);
      expect(readFileSync(join(dir, 'issuer.key'), 'utf8')).toBe('keep me');
    }));

  test.each([
    ['fail/output is the CA cert, even with force', { certPath: 'ca.crt', keyPath: 'new.key' }, /ca\.crt is the --ca-cert input/],
    ['fail/output is the CA key, even with force', { certPath: 'new.crt', keyPath: 'ca.key' }, /ca\.key is the --ca-key input/],
  ])('%s', (_name, rel, message) =>
    inTempDir(async (dir) => {
      writeRoot(dir);
      const run = writeIssuerFiles({
        caCertPath: join(dir, 'ca.crt'),
        caKeyPath: join(dir, 'ca.key'),
        paths: { certPath: join(dir, rel.certPath), keyPath: join(dir, rel.keyPath) },
        commonName: 'identity.test',
        force: true,
      });
      await expect(run).rejects.toThrow(CertsError);
      await expect(run).rejects.toThrow(message);
      expect(readFileSync(join(dir, 'ca.crt'), 'utf8')).toBe(root.certPem);
      expect(readFileSync(join(dir, 'ca.key'), 'utf8')).toBe(root.keyPem);
    }));

  test.each([
    ['fail/key given as --ca-cert', (d: string) => ({ caCertPath: join(d, 'ca.key'), caKeyPath: join(d, 'ca.key') }), /--ca-cert: .*ca\.key holds no CERTIFICATE \(found PRIVATE KEY\)/],
    ['fail/cert given as --ca-key', (d: string) => ({ caCertPath: join(d, 'ca.crt'), caKeyPath: join(d, 'ca.crt') }), /--ca-key: .*ca\.crt holds no private key \(found CERTIFICATE\)/],
    ['fail/missing --ca-key', (d: string) => ({ caCertPath: join(d, 'ca.crt'), caKeyPath: join(d, 'nope.key') }), /--ca-key: .*nope\.key does not exist/],
  ])('%s', (_name, inputs, message) =>
    inTempDir(async (dir) => {
      writeRoot(dir);
      const run = writeIssuerFiles({ ...inputs(dir), paths: { certPath: join(dir, 'i.crt'), keyPath: join(dir, 'i.key') }, commonName: 'identity.test' });
      await expect(run).rejects.toThrow(message);
      expect(existsSync(join(dir, 'i.crt')) || existsSync(join(dir, 'i.key'))).toBe(false);
    }));

  test.each([
    ['fail/zero validity', { validityMs: 0, commonName: 'x' }, /--validity: expected at least 1s/],
    ['fail/empty CN', { commonName: ' ' }, /--cn: expected 1 to 64 characters/],
  ])('%s', (_name, cfg, message) =>
    inTempDir(async (dir) => {
      const run = writeAnchorFiles({ paths: { certPath: join(dir, 'a.crt'), keyPath: join(dir, 'a.key') }, ...cfg });
      await expect(run).rejects.toThrow(message);
      expect(readdirSync(dir)).toEqual([]);
    }));
});
