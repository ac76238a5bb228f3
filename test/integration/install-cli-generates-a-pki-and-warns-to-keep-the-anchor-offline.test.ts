/**
 * `lanyard install` without PKI files creates an anchor and an issuer (keys 0600), warns on
 * stderr to keep the anchor key offline and says where it is, and reuses that PKI on the
 * next run; given files are checked before anything is printed. Nothing contacts a cluster
 * (no KUBECONFIG is set, and none is needed).
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { lanyard, ROOT } from '../support/cli.js';
import { createTestPki } from '../support/test-ca.js';

let dir: string;
beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'lanyard-install-cli-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const NO_CLUSTER = { KUBECONFIG: join(tmpdir(), 'lanyard-no-such-kubeconfig'), KUBERNETES_SERVICE_HOST: '' };
const objects = (yaml: string): any[] => (parseAllDocuments(yaml) as any[]).map((d) => d.toJS()).filter(Boolean);

test('ok/a generated PKI: warning with the path, keys 0600, issuer signed by the anchor, reused next time', async () => {
  const pki = join(dir, 'pki');
  const first = await lanyard(['install', '--pki-dir', pki], NO_CLUSTER);
  expect(first.code).toBe(0);
  expect(first.stderr).toContain(`warning: generated a new trust anchor and issuer in ${pki}`);
  expect(first.stderr).toContain(`keep the anchor key ${join(pki, 'ca.key')} (mode 0600) offline`);
  for (const key of ['ca.key', 'issuer.key']) expect(statSync(join(pki, key)).mode & 0o777).toBe(0o600);
  const anchor = new X509Certificate(readFileSync(join(pki, 'ca.crt')));
  const issuer = new X509Certificate(readFileSync(join(pki, 'issuer.crt')));
  expect(issuer.verify(anchor.publicKey)).toBe(true);
  const out = objects(first.stdout);
  expect(out.find((o) => o.kind === 'ConfigMap' && o.metadata.name === 'lanyard-trust-anchors').data['ca-bundle.crt']).toBe(readFileSync(join(pki, 'ca.crt'), 'utf8'));
  // The anchor's key never reaches the manifests.
  expect(first.stdout).not.toContain(readFileSync(join(pki, 'ca.key'), 'utf8').split('\n')[1]);

  const second = await lanyard(['install', '--pki-dir', pki, '-o', 'json'], NO_CLUSTER);
  expect(second.code).toBe(0);
  expect(second.stderr).toContain(`note: using the PKI generated earlier in ${pki}`);
  expect(second.stderr).not.toContain('warning');
  const list = JSON.parse(second.stdout);
  expect(list.kind).toBe('List');
  expect(list.items.find((o: any) => o.kind === 'Secret').stringData['tls.crt']).toBe(readFileSync(join(pki, 'issuer.crt'), 'utf8'));
}, 60_000);

test('ok/given files are used as they are', async () => {
  const f = join(ROOT, 'test', 'fixtures', 'install', 'pki');
  const r = await lanyard(['install', '--identity-trust-anchors-file', join(f, 'ca.crt'), '--identity-issuer-certificate-file', join(f, 'issuer.crt'), '--identity-issuer-key-file', join(f, 'issuer.key'), '--registry', 'r.example/x', '--image-tag', 't1'], NO_CLUSTER);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('');
  expect(r.stdout).toContain('image: r.example/x/lanyard:t1');
});

test.each([
  ['only some of the files', (f: string) => ['--identity-trust-anchors-file', join(f, 'ca.crt')], /--identity-issuer-certificate-file and --identity-issuer-key-file: required with --identity-trust-anchors-file/],
  ['an issuer from another anchor', (_f: string) => ['--identity-trust-anchors-file', join(dir, 'other-ca.crt'), '--identity-issuer-certificate-file', join(dir, 'other-issuer.crt'), '--identity-issuer-key-file', join(dir, 'other-issuer.key')], /does not chain to any trust anchor/],
  ['a key that is not the issuer\'s', (f: string) => ['--identity-trust-anchors-file', join(f, 'ca.crt'), '--identity-issuer-certificate-file', join(f, 'issuer.crt'), '--identity-issuer-key-file', join(dir, 'other-issuer.key')], /--identity-issuer-key-file: not the private key/],
  ['an unknown --set key', (_f: string) => ['--set', 'identity.replica=3'], /--set identity.replica=3: unknown key/],
  ['a bad flag value', (_f: string) => ['--replicas', 'zero'], /--replicas: expected an integer from 1 to 100/],
])('fail/%s is refused before anything is printed', async (_n, args, re) => {
  const other = await createTestPki();
  writeFileSync(join(dir, 'other-ca.crt'), (await createTestPki()).anchor.certPem);
  writeFileSync(join(dir, 'other-issuer.crt'), other.issuer.certPem);
  writeFileSync(join(dir, 'other-issuer.key'), other.issuer.keyPem);
  const r = await lanyard(['install', '--pki-dir', join(dir, 'unused'), ...args(join(ROOT, 'test', 'fixtures', 'install', 'pki'))], NO_CLUSTER);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(re);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}, 30_000);
