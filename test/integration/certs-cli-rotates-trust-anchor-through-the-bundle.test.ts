/**
 * Anchor rotation as an operator runs it: add the new anchor to the bundle, move the issuer
 * to it, drop the old anchor. At every step the bundle must accept exactly what proxies
 * still need to trust.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, modeOf, openssl, runCli } from './certs-cli-support.js';

let tmp: ReturnType<typeof makeTempDir>;
beforeAll(() => {
  tmp = makeTempDir();
});
afterAll(() => tmp.cleanup());

const cli = (...args: string[]) => runCli(['certs', ...args], tmp.dir);
const chainOk = async (cert: string) => {
  const r = await cli('inspect', cert, '--bundle', 'bundle.pem', '--json');
  return { code: r.code, chain: JSON.parse(r.stdout).chain };
};
const listed = async () => JSON.parse((await cli('bundle', 'list', '--bundle', 'bundle.pem', '--json')).stdout) as { subject: string; fingerprintSha256: string }[];

test('add new anchor, move issuer, drop old anchor', async () => {
  expect((await cli('create-anchor', '--out-dir', 'old', '--cn', 'root-old')).code).toBe(0);
  expect((await cli('create-issuer', '--ca-cert', 'old/ca.crt', '--ca-key', 'old/ca.key', '--out-dir', 'old')).code).toBe(0);
  const first = await cli('bundle', 'add', '--bundle', 'bundle.pem', 'old/ca.crt');
  expect(first.code).toBe(0);
  expect(first.stdout).toMatch(/^added +[0-9A-F:]{95} +CN=root-old\nbundle\.pem: 1 anchor\n$/);
  expect(modeOf(statSync(join(tmp.dir, 'bundle.pem')))).toBe('644');

  // 1. trust both
  expect((await cli('create-anchor', '--out-dir', 'new', '--cn', 'root-new')).code).toBe(0);
  const add = await cli('bundle', 'add', '--bundle', 'bundle.pem', 'new/ca.crt', 'old/ca.crt');
  expect(add.code).toBe(0);
  expect(add.stdout).toMatch(/added .* CN=root-new\npresent .* CN=root-old \(already in the bundle\)\nbundle\.pem: 2 anchors\n/);
  expect((await listed()).map((a) => a.subject)).toEqual(['CN=root-old', 'CN=root-new']);

  // 2. move the issuer; old and new issuers both chain while both anchors are trusted
  expect((await cli('create-issuer', '--ca-cert', 'new/ca.crt', '--ca-key', 'new/ca.key', '--out-dir', 'new')).code).toBe(0);
  expect(await chainOk('old/issuer.crt')).toMatchObject({ code: 0, chain: { ok: true, anchor: { subject: 'CN=root-old' } } });
  expect(await chainOk('new/issuer.crt')).toMatchObject({ code: 0, chain: { ok: true, anchor: { subject: 'CN=root-new' } } });

  // 3. drop the old anchor by the fingerprint `bundle list` printed
  const oldFp = (await listed()).find((a) => a.subject === 'CN=root-old')!.fingerprintSha256;
  const remove = await cli('bundle', 'remove', '--bundle', 'bundle.pem', '--fingerprint', oldFp);
  expect(remove).toMatchObject({ code: 0, stdout: `removed  ${oldFp}  CN=root-old\nbundle.pem: 1 anchor\n` });
  expect((await listed()).map((a) => a.subject)).toEqual(['CN=root-new']);
  expect(await chainOk('new/issuer.crt')).toMatchObject({ code: 0, chain: { ok: true } });
  const stale = await chainOk('old/issuer.crt');
  expect(stale.code).toBe(1);
  expect(stale.chain).toMatchObject({ ok: false, error: expect.stringMatching(/does not chain to any trust anchor/) });

  // the last anchor stays unless the operator insists
  const last = await cli('bundle', 'remove', '--bundle', 'bundle.pem', 'new/ca.crt');
  expect(last.code).toBe(1);
  expect(last.stderr).toMatch(/^lanyard: refusing to remove the last anchor/);
  expect(await listed()).toHaveLength(1);
  expect((await cli('bundle', 'remove', '--bundle', 'bundle.pem', 'new/ca.crt', '--allow-empty')).code).toBe(0);
  expect((await cli('bundle', 'list', '--bundle', 'bundle.pem')).stdout).toMatch(/empty bundle/);
}, 180_000); // ~20 CLI runs, each a fresh node process

test('bundle add refuses what is not a CA certificate and leaves the bundle as it was', async () => {
  expect((await cli('create-anchor', '--out-dir', 'third', '--cn', 'root-third')).code).toBe(0);
  expect((await cli('bundle', 'add', '--bundle', 'b2.pem', 'third/ca.crt')).code).toBe(0);
  const made = await openssl(
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'leaf.key', '-out', 'leaf.crt', '-subj', '/CN=leaf', '-days', '1', '-addext', 'basicConstraints=critical,CA:FALSE'],
    tmp.dir,
  );
  expect(made.code).toBe(0);
  const before = await cli('bundle', 'list', '--bundle', 'b2.pem', '--json');

  const leaf = await cli('bundle', 'add', '--bundle', 'b2.pem', 'leaf.crt');
  expect(leaf.code).toBe(1);
  expect(leaf.stderr).toBe('lanyard: leaf.crt: CN=leaf is not a CA certificate; a trust bundle holds CA certificates only\n');
  const key = await cli('bundle', 'add', '--bundle', 'b2.pem', 'third/ca.key');
  expect(key.code).toBe(2); // the file given is not a certificate: a usage error
  expect(key.stderr).toBe('lanyard: CERT: third/ca.key holds no CERTIFICATE (found PRIVATE KEY)\n');
  expect((await cli('bundle', 'list', '--bundle', 'b2.pem', '--json')).stdout).toBe(before.stdout);
}, 60_000);
