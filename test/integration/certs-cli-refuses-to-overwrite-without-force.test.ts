import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir, modeOf, runCli } from './certs-cli-support.js';

let tmp: ReturnType<typeof makeTempDir>;
beforeEach(() => {
  tmp = makeTempDir();
});
afterEach(() => tmp.cleanup());

const read = (f: string) => readFileSync(join(tmp.dir, f), 'utf8');

test('a second create-anchor is refused in one line and leaves both files untouched', async () => {
  expect((await runCli(['certs', 'create-anchor'], tmp.dir)).code).toBe(0);
  const before = [read('ca.crt'), read('ca.key')];
  const again = await runCli(['certs', 'create-anchor'], tmp.dir);
  expect(again.code).toBe(1);
  expect(again.stdout).toBe('');
  expect(again.stderr).toBe('lanyard: ca.crt already exists (use --force to overwrite)\n');
  expect([read('ca.crt'), read('ca.key')]).toEqual(before);
});

test('one existing output file refuses the whole command: no partial issuer', async () => {
  await runCli(['certs', 'create-anchor'], tmp.dir);
  writeFileSync(join(tmp.dir, 'issuer.key'), 'an older key\n', { mode: 0o600 });
  const r = await runCli(['certs', 'create-issuer', '--ca-cert', 'ca.crt', '--ca-key', 'ca.key'], tmp.dir);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('lanyard: issuer.key already exists (use --force to overwrite)\n');
  expect(existsSync(join(tmp.dir, 'issuer.crt'))).toBe(false);
  expect(read('issuer.key')).toBe('an older key\n');
});

test('--force replaces the files and keeps the key private', async () => {
  await runCli(['certs', 'create-anchor'], tmp.dir);
  const oldCert = read('ca.crt');
  const r = await runCli(['certs', 'create-anchor', '--force'], tmp.dir);
  expect(r.code).toBe(0);
  expect(read('ca.crt')).not.toBe(oldCert);
  expect(modeOf(statSync(join(tmp.dir, 'ca.key')))).toBe('600');
});

test('--force never overwrites the CA the issuer is signed with', async () => {
  await runCli(['certs', 'create-anchor'], tmp.dir);
  const before = read('ca.crt');
  const r = await runCli(['certs', 'create-issuer', '--ca-cert', 'ca.crt', '--ca-key', 'ca.key', '--cert', 'ca.crt', '--key', 'new.key', '--force'], tmp.dir);
  expect(r.code).toBe(2); // a usage error: the options contradict each other
  expect(r.stderr).toBe('lanyard: ca.crt is the --ca-cert input; choose another output file\n');
  expect(read('ca.crt')).toBe(before);
  expect(existsSync(join(tmp.dir, 'new.key'))).toBe(false);
});
