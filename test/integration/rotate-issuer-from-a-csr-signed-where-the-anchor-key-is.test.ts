/**
 * Issuer rotation with the anchor key kept offline: `--csr` writes the new issuer's key
 * (0600) and a CSR and stops, saying how to sign it; openssl signs it "elsewhere" with the
 * very command the message gives; the next run finds the certificate beside the key,
 * checks it as the identity service will, installs it, and waits until the proxy and the
 * identity service use it. A certificate that does not match the key is refused.
 */
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lanyard } from '../support/cli.js';
import { adminJson } from '../support/mesh-harness.js';
import { startProcessMesh, type ProcessMesh } from '../support/process-mesh.js';

const SLOW = 120_000;
let mesh: ProcessMesh;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-rotate-csr-'));
  mesh = await startProcessMesh(['--lifetime', '10s', '--poll-interval', '200ms']);
  await mesh.proxy('web', { env: { LANYARD_PROXY_MIN_REFRESH: '1s' } });
}, SLOW);
afterAll(async () => {
  await mesh?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const out = () => join(dir, 'next');
const rotate = (...extra: string[]) =>
  lanyard(['certs', 'rotate', 'issuer', '--out-dir', out(), '--issuer', mesh.pkiDir, '--proxy', mesh.adminOf(mesh.proxies[0]), '--identity-addr', mesh.identity.addr, '--poll-interval', '200ms', ...extra]);

test('csr → refused with the signing command → signed offline → installed → every leaf moves', async () => {
  const before = new X509Certificate(readFileSync(join(mesh.pkiDir, 'issuer.crt'))).fingerprint256;
  const first = await rotate('--csr');
  expect(first.code).toBe(1);
  expect(first.stdout).toMatch(/× move-issuer: waiting for .*next\/issuer\.crt: sign .*next\/issuer\.csr with the anchor/);
  expect((statSync(join(out(), 'issuer.key')).mode & 0o777).toString(8)).toBe('600');
  expect(first.stdout + first.stderr).not.toMatch(/PRIVATE KEY/);
  expect(existsSync(join(out(), 'issuer.crt'))).toBe(false);

  // A certificate for another key is refused, and nothing is installed.
  const stranger = join(dir, 'stranger');
  expect((await lanyard(['certs', 'create-issuer', '--ca-cert', join(mesh.pkiDir, 'ca.crt'), '--ca-key', join(mesh.pkiDir, 'ca.key'), '--out-dir', stranger])).code).toBe(0);
  copyFileSync(join(stranger, 'issuer.crt'), join(out(), 'issuer.crt'));
  const mismatch = await rotate();
  expect({ code: mismatch.code, says: mismatch.stderr }).toEqual({ code: 2, says: expect.stringMatching(/^lanyard: --new-issuer-key: .*issuer\.key is not the private key of .*issuer\.crt$/m) });
  rmSync(join(out(), 'issuer.crt'));

  // Signed "where the anchor key is": the openssl command the message gives, with the dev anchor.
  const command = /e\.g\. (openssl x509 -req .*-out \S+), then run this again/.exec(first.stdout)![1];
  execFileSync('bash', ['-c', command], { cwd: mesh.pkiDir, stdio: 'ignore' });
  const signed = new X509Certificate(readFileSync(join(out(), 'issuer.crt')));

  const done = await rotate('--wait', '60s', '-o', 'json');
  const r = JSON.parse(done.stdout) as { steps: { step: string; status: string }[]; complete: boolean };
  expect({ code: done.code, steps: r.steps.map((s) => `${s.step}:${s.status}`), complete: r.complete }).toEqual({ code: 0, steps: ['move-issuer:done', 'wait-issuer:done'], complete: true });
  const now = new X509Certificate(readFileSync(join(mesh.pkiDir, 'issuer.crt'))).fingerprint256;
  expect({ changed: now !== before, isTheSigned: now === signed.fingerprint256 }).toEqual({ changed: true, isTheSigned: true });
  const id = await adminJson(mesh.proxies[0].admin, '/identity');
  expect((id.chain as { fingerprint_sha256: string }[])[1].fingerprint_sha256).toBe(signed.fingerprint256);

  // The certificate openssl made is the profile create-issuer makes: CA, path length 0.
  const check = await lanyard(['check', '--issuer', mesh.pkiDir, '-o', 'json']);
  const checks = (JSON.parse(check.stdout) as { categories: { checks: { id: string; status: string }[] }[] }).categories[0].checks;
  expect(checks.filter((c) => c.status !== 'ok').map((c) => c.id)).toEqual([]);
}, SLOW);
