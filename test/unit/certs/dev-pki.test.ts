import { createHash, createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { devPkiPaths, ensureDevPki, type DevPkiResult } from '../../../certs/dev-pki.js';
import { TrustBundle } from '../../../src/pki/trust-bundle.js';
import { inTempDir } from './certs-fixtures.js';

const snapshot = (r: DevPkiResult) =>
  Object.fromEntries([r.caPath, r.caKeyPath, r.issuerCertPath, r.issuerKeyPath, r.tokenKeyPath, r.tokenPublicJwksPath].map((p) => [p, readFileSync(p, 'utf8')]));

describe('ensureDevPki', () => {
  test('ok/first call creates everything with the right modes and names', () =>
    inTempDir(async (tmp) => {
      const dir = join(tmp, 'certs', 'dev');
      const r = await ensureDevPki(dir, { trustDomain: 'example.test', controlNamespace: 'mesh' });
      expect(r).toMatchObject({ created: true, ...devPkiPaths(dir) });
      expect(r.createdFiles).toHaveLength(6);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
      for (const p of [r.caKeyPath, r.issuerKeyPath, r.tokenKeyPath]) expect(statSync(p).mode & 0o777).toBe(0o600);
      for (const p of [r.caPath, r.issuerCertPath, r.tokenPublicJwksPath]) expect(statSync(p).mode & 0o777).toBe(0o644);

      const ca = new X509Certificate(readFileSync(r.caPath));
      const iss = new X509Certificate(readFileSync(r.issuerCertPath));
      expect(ca.subject).toBe('CN=root.mesh.example.test');
      expect(iss.subject).toBe('CN=identity.mesh.example.test');
      expect(() => TrustBundle.fromPem(readFileSync(r.caPath, 'utf8')).verify([iss], new Date())).not.toThrow();
      expect(iss.checkPrivateKey(createPrivateKey(readFileSync(r.issuerKeyPath)))).toBe(true);
    }));

  test('ok/token key: PKCS#8 ES256 and a JWKS whose kid is the RFC 7638 thumbprint', () =>
    inTempDir(async (dir) => {
      const r = await ensureDevPki(dir, {});
      const keyPem = readFileSync(r.tokenKeyPath, 'utf8');
      expect(keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
      const jwks = JSON.parse(readFileSync(r.tokenPublicJwksPath, 'utf8'));
      expect(jwks.keys).toHaveLength(1);
      const [jwk] = jwks.keys;
      expect(jwk).toEqual({ kty: 'EC', crv: 'P-256', x: expect.any(String), y: expect.any(String), kid: expect.any(String), alg: 'ES256', use: 'sig' });
      expect(jwk.d).toBeUndefined();
      const pub = createPublicKey(createPrivateKey(keyPem)).export({ format: 'jwk' });
      expect([jwk.x, jwk.y]).toEqual([pub.x, pub.y]);
      const thumb = createHash('sha256').update(`{"crv":"P-256","kty":"EC","x":"${jwk.x}","y":"${jwk.y}"}`).digest('base64url');
      expect(jwk.kid).toBe(thumb);
    }));

  test('ok/second call leaves everything alone', () =>
    inTempDir(async (dir) => {
      const first = await ensureDevPki(dir, {});
      const before = snapshot(first);
      const second = await ensureDevPki(dir, {});
      expect(second).toMatchObject({ created: false, createdFiles: [] });
      expect(snapshot(second)).toEqual(before);
    }));

  test('ok/concurrent first starts agree on one PKI', () =>
    inTempDir(async (dir) => {
      const results = await Promise.all([ensureDevPki(dir, {}), ensureDevPki(dir, {}), ensureDevPki(dir, {})]);
      expect(results.filter((r) => r.created)).toHaveLength(1);
      const iss = new X509Certificate(readFileSync(results[0].issuerCertPath));
      expect(iss.verify(new X509Certificate(readFileSync(results[0].caPath)).publicKey)).toBe(true);
    }));

  test('ok/a missing JWKS is rebuilt from the existing key, nothing else changes', () =>
    inTempDir(async (dir) => {
      const first = await ensureDevPki(dir, {});
      const before = snapshot(first);
      rmSync(first.tokenPublicJwksPath);
      const again = await ensureDevPki(dir, {});
      expect(again.createdFiles).toEqual([first.tokenPublicJwksPath]);
      expect(snapshot(again)).toEqual(before);
    }));

  test('ok/an issuer close to expiry is re-issued from the same anchor', () =>
    inTempDir(async (dir) => {
      const first = await ensureDevPki(dir, {});
      const ca = readFileSync(first.caPath, 'utf8');
      const oldIssuer = readFileSync(first.issuerCertPath, 'utf8');
      const later = new Date(Date.parse(new X509Certificate(oldIssuer).validTo) - 3_600_000);
      const again = await ensureDevPki(dir, { now: later });
      expect(again.createdFiles).toEqual([first.issuerCertPath, first.issuerKeyPath]);
      expect(readFileSync(first.caPath, 'utf8')).toBe(ca);
      const renewed = new X509Certificate(readFileSync(first.issuerCertPath));
      expect(Date.parse(renewed.validTo)).toBeGreaterThan(later.getTime() + 86_400_000);
      expect(renewed.verify(new X509Certificate(ca).publicKey)).toBe(true);
    }));

  test.each([
    ['fail/issuer without its anchor', (r: DevPkiResult) => rmSync(r.caPath), /issuer\.crt exists but the anchor .*ca\.crt does not; delete .* to start over/],
    ['fail/issuer must be recreated but the anchor key is gone', (r: DevPkiResult) => {
      rmSync(r.caKeyPath);
      writeFileSync(r.issuerCertPath, 'corrupt');
    }, /the issuer must be \(re\)created but .*ca\.key is missing/],
  ] as const)('%s', (_name, damage, message) =>
    inTempDir(async (dir) => {
      damage(await ensureDevPki(dir, {}));
      await expect(ensureDevPki(dir, {})).rejects.toThrow(expect.objectContaining({ code: 'ERR_CERTS_DEV_PKI', message: expect.stringMatching(message) }));
    }));
});
