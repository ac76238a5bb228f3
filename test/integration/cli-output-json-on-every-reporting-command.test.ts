/**
 * `-o json` (`--output json`) on every command that reports something: one JSON document
 * on stdout that says what the text says, for scripts. Private keys never appear; a token
 * appears only where it is what was asked for (`token mint`).
 */
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDevPki } from '../../certs/dev-pki.js';
import { CLI, lanyard, ROOT, startLanyard } from '../support/cli.js';
import { requires } from '../support/requires.js';

let dir: string;
const f = (name: string) => join(dir, name);
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-json-'));
  await ensureDevPki(f('pki'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function json(args: string[], env: Record<string, string> = {}): Promise<Record<string, any>> {
  const r = await lanyard([...args, '-o', 'json'], env);
  expect({ code: r.code, stderr: r.stderr.replace(/^note: .*\n/gm, '') }).toEqual({ code: 0, stderr: '' });
  expect(r.stdout).not.toMatch(/PRIVATE KEY/);
  return JSON.parse(r.stdout) as Record<string, any>;
}

const fingerprintOf = (path: string) => new X509Certificate(readFileSync(path)).fingerprint256;

test('certs create-anchor and create-issuer: paths, modes and fingerprints', async () => {
  const anchor = await json(['certs', 'create-anchor', '--out-dir', f('ca'), '--cn', 'root-json']);
  expect(anchor).toEqual({
    kind: 'trust-anchor',
    subject: 'CN=root-json',
    notBefore: expect.stringMatching(/Z$/),
    notAfter: expect.stringMatching(/Z$/),
    fingerprintSha256: fingerprintOf(f('ca/ca.crt')),
    files: [
      { path: f('ca/ca.crt'), contents: 'certificate', mode: '0644' },
      { path: f('ca/ca.key'), contents: 'private key', mode: '0600' },
    ],
    notes: [],
  });
  expect(statSync(f('ca/ca.key')).mode & 0o777).toBe(0o600);

  const issuer = await json(['certs', 'create-issuer', '--ca-cert', f('ca/ca.crt'), '--ca-key', f('ca/ca.key'), '--out-dir', f('ca'), '--validity', '30d']);
  expect(issuer).toMatchObject({ kind: 'issuer', subject: 'CN=identity.lanyard.cluster.local', fingerprintSha256: fingerprintOf(f('ca/issuer.crt')) });
  expect(issuer.files.map((x: { path: string }) => x.path)).toEqual([f('ca/issuer.crt'), f('ca/issuer.key')]);
  expect(Date.parse(issuer.notAfter) - Date.parse(issuer.notBefore)).toBeGreaterThanOrEqual(30 * 86_400_000);
}, 60_000);

test('certs bundle add/list and inspect', async () => {
  const anchor = await json(['certs', 'create-anchor', '--out-dir', f('b'), '--cn', 'root-b']);
  const add = await json(['certs', 'bundle', 'add', '--bundle', f('bundle.pem'), f('b/ca.crt')]);
  expect(add).toMatchObject({ bundle: f('bundle.pem'), added: [{ subject: 'CN=root-b', fingerprintSha256: anchor.fingerprintSha256 }], alreadyPresent: [], removed: [] });
  expect(await json(['certs', 'bundle', 'list', '--bundle', f('bundle.pem')])).toEqual([expect.objectContaining({ index: 1, subject: 'CN=root-b', status: 'valid' })]);
  const report = await json(['certs', 'inspect', f('b/ca.crt'), '--bundle', f('bundle.pem')]);
  expect(report).toMatchObject({ ok: true, certificates: [expect.objectContaining({ subject: 'CN=root-b' })] });
}, 60_000);

test('token mint: the token it was asked for, and its claims; never the key', async () => {
  const r = await json(['token', 'mint', '--ns', 'default', '--sa', 'web', '--pki-dir', f('pki'), '--ttl', '10m']);
  expect(Object.keys(r).sort()).toEqual(['claims', 'kid', 'token']);
  expect(r.claims).toMatchObject({ sub: 'system:serviceaccount:default:web', aud: ['identity.lanyard.io'], iss: 'lanyard-dev', 'kubernetes.io': { namespace: 'default' } });
  expect(r.claims.exp - r.claims.iat).toBe(600);
  expect(JSON.parse(Buffer.from(r.token.split('.')[1], 'base64url').toString())).toEqual(r.claims);
  expect(JSON.stringify(r)).not.toContain(readFileSync(f('pki/token-signing.key'), 'utf8').split('\n')[1]);
}, 30_000);

test('certify: identity, serial, validity and the files written; not the token', async () => {
  const svc = startLanyard(['identity', '--issuer-dir', f('pki'), '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
  try {
    const line = await svc.waitFor(/\{[^\n]*"identity service listening"[^\n]*\}/, 30_000);
    const addr = (JSON.parse(line) as { addr: string }).addr;
    const token = (await json(['token', 'mint', '--ns', 'default', '--sa', 'web', '--pki-dir', f('pki')])).token as string;
    writeFileSync(f('web.token'), token);
    const r = await json(['certify', '--ns', 'default', '--sa', 'web', '--token-file', f('web.token'), '--out-dir', f('web'), '--trust-anchors', f('pki/ca.crt')], {
      LANYARD_PROXY_IDENTITY_ADDR: addr,
    });
    const leaf = new X509Certificate(readFileSync(f('web/tls.crt')));
    expect(r).toEqual({
      identity: 'web.default.serviceaccount.identity.lanyard.cluster.local',
      spiffeId: 'spiffe://cluster.local/ns/default/sa/web',
      serial: leaf.serialNumber,
      notBefore: new Date(leaf.validFrom).toISOString(),
      notAfter: new Date(leaf.validTo).toISOString(),
      fingerprintSha256: leaf.fingerprint256,
      files: { key: f('web/tls.key'), certificate: f('web/tls.crt'), trustAnchors: f('web/ca.crt') },
    });
    expect(JSON.stringify(r)).not.toContain(token);
  } finally {
    await svc.stop();
  }
}, 90_000);

const root = process.getuid?.() === 0;
const dryRunTest = requires('iptables', ...(root ? ['setpriv'] : [])).test;

dryRunTest('proxy-init --dry-run: the rules, per address family', () => {
  // Without CAP_NET_ADMIN a dry run shows what a first run in a fresh pod does, whatever
  // this machine's own nat table holds.
  const argv = ['proxy-init', '--dry-run', '--ipv6', 'off', '--outbound-ports-to-ignore', '3306', '-o', 'json'];
  const r = root
    ? spawnSync('setpriv', ['--bounding-set=-net_admin', '--inh-caps=-net_admin', process.execPath, CLI, ...argv], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 })
    : spawnSync(process.execPath, [CLI, ...argv], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
  expect(r.status).toBe(0);
  const report = JSON.parse(r.stdout) as { dryRun: boolean; backend: string; iptables: string; families: { family: number; status: string; commands: string[] }[] };
  expect(report).toMatchObject({ dryRun: true, families: [{ family: 4, status: 'install' }] });
  const { commands } = report.families[0];
  expect(commands).toContain(`${report.iptables} -t nat -A LANYARD_OUTPUT -p tcp -m multiport --dports 3306 -m comment --comment lanyard-skip-outbound-ports -j RETURN`);
  expect(commands.at(-1)).toBe(`${report.iptables} -t nat -A OUTPUT -m comment --comment lanyard-outbound -j LANYARD_OUTPUT`);
}, 30_000);
