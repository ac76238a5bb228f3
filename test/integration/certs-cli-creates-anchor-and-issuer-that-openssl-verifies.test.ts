import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, modeOf, openssl, runCli } from './certs-cli-support.js';

let tmp: ReturnType<typeof makeTempDir>;
beforeAll(() => {
  tmp = makeTempDir();
});
afterAll(() => tmp.cleanup());

test('create-anchor then create-issuer produce a chain openssl accepts, keys 0600, certs 0644', async () => {
  const anchor = await runCli(['certs', 'create-anchor'], tmp.dir);
  expect(anchor).toMatchObject({ code: 0, stderr: '' });
  expect(anchor.stdout).toMatch(/Created trust anchor CN=root\.lanyard\.cluster\.local/);

  const issuer = await runCli(['certs', 'create-issuer', '--ca-cert', 'ca.crt', '--ca-key', 'ca.key', '--validity', '720h'], tmp.dir);
  expect(issuer).toMatchObject({ code: 0, stderr: '' });
  expect(issuer.stdout).toMatch(/Created issuer CN=identity\.lanyard\.cluster\.local/);

  for (const f of ['ca.key', 'issuer.key']) expect(modeOf(statSync(join(tmp.dir, f)))).toBe('600');
  for (const f of ['ca.crt', 'issuer.crt']) expect(modeOf(statSync(join(tmp.dir, f)))).toBe('644');

  const verify = await openssl(['verify', '-CAfile', 'ca.crt', 'issuer.crt'], tmp.dir);
  expect(verify).toMatchObject({ code: 0, stdout: 'issuer.crt: OK\n' });

  const text = (await openssl(['x509', '-in', 'issuer.crt', '-noout', '-text'], tmp.dir)).stdout;
  expect(text).toMatch(/X509v3 Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
  expect(text).toMatch(/X509v3 Key Usage: critical\s+Certificate Sign, CRL Sign/);
  expect(text).toMatch(/Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-256/);
  expect(text).toMatch(/X509v3 Authority Key Identifier/);

  const anchorText = (await openssl(['x509', '-in', 'ca.crt', '-noout', '-text'], tmp.dir)).stdout;
  expect(anchorText).toMatch(/Subject: CN ?= ?root\.lanyard\.cluster\.local/);
  expect(anchorText).toMatch(/CA:TRUE\n/);

  const keyCheck = await openssl(['ec', '-in', 'issuer.key', '-noout', '-check'], tmp.dir);
  expect(keyCheck.code).toBe(0);
});

test('inspect --json on the issuer reports the fields scripts rely on and a passing chain', async () => {
  const r = await runCli(['certs', 'inspect', 'issuer.crt', '--bundle', 'ca.crt', '--json'], tmp.dir);
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout);
  const [cert] = report.certificates;
  const fingerprint = (await openssl(['x509', '-in', 'issuer.crt', '-noout', '-fingerprint', '-sha256'], tmp.dir)).stdout.trim().split('=')[1];
  const serial = (await openssl(['x509', '-in', 'issuer.crt', '-noout', '-serial'], tmp.dir)).stdout.trim().split('=')[1];
  expect(cert).toMatchObject({
    subject: 'CN=identity.lanyard.cluster.local',
    issuer: 'CN=root.lanyard.cluster.local',
    serialNumber: serial,
    fingerprintSha256: fingerprint,
    isCa: true,
    pathLength: 0,
    keyUsage: ['keyCertSign', 'cRLSign'],
    publicKey: { algorithm: 'EC', curve: 'P-256', bits: 256 },
    status: 'valid',
  });
  expect(cert.secondsRemaining).toBeGreaterThan(29 * 86_400);
  expect(cert.secondsRemaining).toBeLessThanOrEqual(30 * 86_400);
  expect(report.chain).toMatchObject({ ok: true, anchor: { subject: 'CN=root.lanyard.cluster.local' } });
  expect(report.ok).toBe(true);
});

test('inspect on a key file describes the key and never prints it', async () => {
  const r = await runCli(['certs', 'inspect', 'issuer.key'], tmp.dir);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/Private key 1\n\s+Type: +EC P-256 \(256 bits\)/);
  const keyBody = readFileSync(join(tmp.dir, 'issuer.key'), 'utf8').split('\n')[1];
  expect(r.stdout).not.toContain(keyBody);
});

test('--k8s-secret-layout writes what a kubernetes.io/tls Secret volume holds', async () => {
  const r = await runCli(['certs', 'create-issuer', '--ca-cert', 'ca.crt', '--ca-key', 'ca.key', '--out-dir', 'secret', '--k8s-secret-layout', '--curve', 'P-384'], tmp.dir);
  expect(r.code).toBe(0);
  expect(modeOf(statSync(join(tmp.dir, 'secret', 'tls.key')))).toBe('600');
  expect(readFileSync(join(tmp.dir, 'secret', 'ca.crt'), 'utf8')).toBe(readFileSync(join(tmp.dir, 'ca.crt'), 'utf8'));
  const verify = await openssl(['verify', '-CAfile', 'secret/ca.crt', 'secret/tls.crt'], tmp.dir);
  expect(verify.code).toBe(0);
  expect((await openssl(['x509', '-in', 'secret/tls.crt', '-noout', '-text'], tmp.dir)).stdout).toMatch(/NIST CURVE: P-384/);
});
