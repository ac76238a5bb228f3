import { makeTempDir, runCli } from './certs-cli-support.js';

let tmp: ReturnType<typeof makeTempDir>;
beforeAll(async () => {
  tmp = makeTempDir();
  await runCli(['certs', 'create-anchor'], tmp.dir);
  await runCli(['certs', 'create-issuer', '--ca-cert', 'ca.crt', '--ca-key', 'ca.key'], tmp.dir);
});
afterAll(() => tmp.cleanup());

// Usage errors (a bad option, a missing or unreadable file) exit 2; refusals exit 1.
test.each<[string, string[], number, RegExp]>([
  ['fail/missing ca cert', ['create-issuer', '--ca-cert', 'nope.crt', '--ca-key', 'ca.key'], 2, /^lanyard: --ca-cert: nope\.crt does not exist$/],
  ['fail/issuer as CA', ['create-issuer', '--ca-cert', 'issuer.crt', '--ca-key', 'issuer.key', '--out-dir', 'x'], 1, /^lanyard: --ca-cert: CN=identity\.lanyard\.cluster\.local has path length 0/],
  ['fail/key mismatch', ['create-issuer', '--ca-cert', 'ca.crt', '--ca-key', 'issuer.key', '--out-dir', 'x'], 1, /^lanyard: --ca-key: issuer\.key is not the private key of --ca-cert/],
  ['fail/bad validity', ['create-anchor', '--out-dir', 'x', '--validity', 'forever'], 2, /^lanyard: --validity: unexpected "forever"; expected a duration/],
  ['fail/validity as a bare number', ['create-anchor', '--out-dir', 'x', '--validity', '365'], 2, /^lanyard: --validity: a number needs a unit/],
  ['fail/bad trust domain', ['create-anchor', '--out-dir', 'x', '--trust-domain', 'Not_A_Domain'], 2, /^lanyard: --trust-domain: expected a DNS name/],
  ['fail/cert without key', ['create-anchor', '--cert', 'a.crt'], 2, /^lanyard: --cert and --key go together/],
  ['fail/bad curve', ['create-anchor', '--curve', 'P-521'], 2, /^lanyard: --curve: expected one of P-256, P-384, got "P-521"$/],
  ['fail/missing required option', ['create-issuer', '--ca-key', 'ca.key'], 2, /^error: required option '--ca-cert <file>' not specified/],
  ['fail/unknown option', ['create-anchor', '--out', 'x'], 2, /^error: unknown option '--out'/],
  ['fail/bad fingerprint', ['bundle', 'remove', '--bundle', 'ca.crt', '--fingerprint', '12:34'], 2, /^lanyard: --fingerprint: expected a SHA-256 fingerprint/],
  ['fail/inspect missing file', ['inspect', 'missing.pem'], 2, /^lanyard: FILE: missing\.pem does not exist$/],
  ['fail/inspect with a key as bundle', ['inspect', 'issuer.crt', '--bundle', 'ca.key'], 2, /^lanyard: --bundle .*ca\.key.*no PEM CERTIFICATE block/],
])('%s', async (_name, args, code, firstLine) => {
  const r = await runCli(['certs', ...args], tmp.dir);
  expect(r.code).toBe(code);
  expect(r.stdout).toBe('');
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(firstLine);
  expect(r.stderr).not.toMatch(/^\s+at /m);
});

test.each([['create-anchor'], ['create-issuer'], ['bundle'], ['bundle add'], ['bundle remove'], ['bundle list'], ['inspect']])('ok/%s --help has examples', async (sub) => {
  const r = await runCli(['certs', ...sub.split(' '), '--help'], tmp.dir);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(/Usage: lanyard certs /);
  expect(r.stdout).toMatch(/Examples?:|rotation/);
  expect(r.stdout).toContain('$ lanyard certs');
});
