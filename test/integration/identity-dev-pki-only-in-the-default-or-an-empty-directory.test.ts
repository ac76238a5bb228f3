/**
 * With the dev validator a development PKI is created only in the default directory or in
 * an empty (or new) one. A directory that already holds an operator's issuer
 * (tls.crt/tls.key) is refused with a usage error saying what to do, and nothing is
 * written into it; a directory holding a development PKI is reused.
 */
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lanyard, startLanyard } from '../support/cli.js';
import { createTestPki, writeIssuerDir } from '../support/test-ca.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-dev-dir-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a directory with an issuer in it is refused, and left as it was', async () => {
  const issuerDir = join(dir, 'issuer');
  writeIssuerDir(issuerDir, await createTestPki());
  const before = readdirSync(issuerDir).sort();
  const r = await lanyard(['identity', '--issuer-dir', issuerDir, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toBe(
    `lanyard: --issuer-dir (env LANYARD_IDENTITY_ISSUER_DIR): ${issuerDir} holds files that are not a development PKI (tls.crt, tls.key); ` +
      'with --validator dev a development PKI is created only in certs/dev or in an empty directory. ' +
      'Pass an empty or new directory, or serve the issuer in it with --validator kubernetes or --validator jwks\n',
  );
  expect(readdirSync(issuerDir).sort()).toEqual(before);
}, 30_000);

test('the same from the variable', async () => {
  const other = join(dir, 'other');
  mkdirSync(other);
  writeFileSync(join(other, 'notes.txt'), 'mine\n');
  const r = await lanyard(['identity', '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0'], { LANYARD_IDENTITY_ISSUER_DIR: other });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/holds files that are not a development PKI \(notes\.txt\)/);
  expect(readdirSync(other)).toEqual(['notes.txt']);
}, 30_000);

test('an empty directory gets a development PKI, which a second start reuses', async () => {
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  for (const expectCreated of [true, false]) {
    const svc = startLanyard(['identity', '--issuer-dir', empty, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
    try {
      await svc.waitFor(/Get a token and a certificate/, 30_000);
      expect(/development PKI just created/.test(svc.stderr())).toBe(expectCreated);
    } finally {
      expect(await svc.stop('SIGTERM')).toBe(0);
    }
  }
  expect(readdirSync(empty).filter((n) => !n.startsWith('.')).sort()).toEqual(['ca.crt', 'ca.key', 'issuer.crt', 'issuer.key', 'token-signing.jwks.json', 'token-signing.key']);
}, 60_000);

test('the other validators serve an operator\'s issuer directory as it is', async () => {
  const issuerDir = join(dir, 'issuer-jwks');
  writeIssuerDir(issuerDir, await createTestPki());
  writeFileSync(join(dir, 'jwks.json'), '{"keys": []}\n');
  const before = readdirSync(issuerDir).sort();
  const svc = startLanyard(['identity', '--validator', 'jwks', '--jwks-file', join(dir, 'jwks.json'), '--issuer-dir', issuerDir, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
  try {
    await svc.waitFor(/identity service listening/, 30_000);
  } finally {
    await svc.stop('SIGTERM');
  }
  expect(readdirSync(issuerDir).sort()).toEqual(before);
}, 60_000);
