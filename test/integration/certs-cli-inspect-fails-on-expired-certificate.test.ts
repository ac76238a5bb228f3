import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAnchor } from '../../certs/ca.js';
import { makeTempDir, runCli } from './certs-cli-support.js';

let tmp: ReturnType<typeof makeTempDir>;
beforeAll(async () => {
  tmp = makeTempDir();
  const expired = await createAnchor({ commonName: 'root-expired', validityDays: 1, notBefore: new Date(Date.now() - 10 * 86_400_000) });
  writeFileSync(join(tmp.dir, 'expired.crt'), expired.certPem);
});
afterAll(() => tmp.cleanup());

test('inspect shows EXPIRED and exits 1 (the check failed)', async () => {
  const r = await runCli(['certs', 'inspect', 'expired.crt'], tmp.dir);
  expect(r.code).toBe(1);
  expect(r.stdout).toMatch(/Not after: +\S+Z \(EXPIRED 9d \d+h ago\)/);
  expect(r.stdout).toMatch(/PROBLEM: certificate 1 \(CN=root-expired\) expired at/);
});

test.each([['-o', 'json'], ['--output', 'json'], ['--json']])('inspect %s still prints the report, with status and problems', async (...flags) => {
  const r = await runCli(['certs', 'inspect', 'expired.crt', ...flags], tmp.dir);
  expect(r.code).toBe(1);
  const report = JSON.parse(r.stdout);
  expect(report.certificates[0]).toMatchObject({ status: 'expired', subject: 'CN=root-expired' });
  expect(report.certificates[0].secondsRemaining).toBeLessThan(-8 * 86_400);
  expect(report).toMatchObject({ ok: false, problems: [expect.stringMatching(/expired at/)] });
});

test('create-issuer refuses an expired CA', async () => {
  const r = await runCli(['certs', 'create-anchor', '--cert', 'x.crt', '--key', 'x.key'], tmp.dir);
  expect(r.code).toBe(0);
  const refused = await runCli(['certs', 'create-issuer', '--ca-cert', 'expired.crt', '--ca-key', 'x.key'], tmp.dir);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toMatch(/^lanyard: --ca-cert: CN=root-expired expired at /);
});
