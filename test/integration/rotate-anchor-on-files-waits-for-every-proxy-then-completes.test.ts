/**
 * A full trust-anchor rotation on files with `lanyard certs rotate anchor`, against a real
 * identity service process and two real proxy processes: the step that moves the issuer
 * refuses while one proxy still lacks the new anchor (naming it); once that proxy has
 * reloaded its bundle, the resumed run moves the issuer and waits for every leaf and the
 * identity service to come from it before it drops the old anchor. Re-running changes
 * nothing.
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lanyard } from '../support/cli.js';
import { adminJson, waitUntil } from '../support/mesh-harness.js';
import { startProcessMesh, type ProcessMesh } from '../support/process-mesh.js';

const SLOW = 180_000;
let mesh: ProcessMesh;
let dir: string;
let apiAnchors: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-rotate-anchor-'));
  mesh = await startProcessMesh(['--lifetime', '10s', '--poll-interval', '200ms']);
  // api reads its own copy of the bundle, so the test decides when api sees a change.
  apiAnchors = join(dir, 'api-anchors.pem');
  copyFileSync(mesh.bundlePath, apiAnchors);
  await mesh.proxy('web', { env: { LANYARD_PROXY_MIN_REFRESH: '1s' } });
  await mesh.proxy('api', { anchorsFile: apiAnchors, env: { LANYARD_PROXY_MIN_REFRESH: '1s' } });
}, SLOW);
afterAll(async () => {
  await mesh?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const fp = (path: string) => new X509Certificate(readFileSync(path)).fingerprint256;
const bundleFps = () => (readFileSync(mesh.bundlePath, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p).fingerprint256);

function rotate(...extra: string[]) {
  const [web, api] = mesh.proxies.map(mesh.adminOf);
  return lanyard([
    'certs', 'rotate', 'anchor',
    '--new-anchor', join(dir, 'new', 'ca.crt'), '--ca-key', join(dir, 'new', 'ca.key'), '--out-dir', join(dir, 'next'),
    '--issuer', mesh.pkiDir, '--proxy', web, '--proxy', api,
    '--identity-addr', mesh.identity.addr, '--identity-admin-addr', mesh.identity.admin,
    '--poll-interval', '200ms', '-o', 'json', ...extra,
  ]);
}
const report = (r: { stdout: string }) => JSON.parse(r.stdout) as { steps: { step: string; status: string; summary: string; missing: string[] }[]; at: string; complete: boolean };

test('add → wait (refused while api lacks the anchor) → move → wait for leaves → remove, then nothing left to do', async () => {
  const oldAnchor = fp(mesh.bundlePath);
  const oldIssuer = fp(join(mesh.pkiDir, 'issuer.crt'));
  expect((await lanyard(['certs', 'create-anchor', '--out-dir', join(dir, 'new')])).code).toBe(0);
  const newAnchor = fp(join(dir, 'new', 'ca.crt'));

  // Nothing is in the bundle yet: moving the issuer is refused for that reason.
  const early = await rotate('--step', 'move-issuer');
  expect({ code: early.code, step: report(early).steps[0] }).toEqual({ code: 1, step: expect.objectContaining({ step: 'move-issuer', status: 'refused', missing: [expect.stringMatching(/not in the bundle: run the add-anchor step first/)] }) });

  const added = await rotate('--step', 'add-anchor');
  expect({ code: added.code, status: report(added).steps[0].status, bundle: bundleFps() }).toEqual({ code: 0, status: 'done', bundle: [oldAnchor, newAnchor] });

  // web and the identity service reload the shared bundle; api still reads its old copy.
  const [web, api] = mesh.proxies;
  await waitUntil(async () => ((await adminJson(web.admin, '/identity')).anchors as unknown[]).length === 2, 'web to report both anchors', 20_000);
  const blocked = await rotate('--step', 'move-issuer', '--wait', '2s');
  const step = report(blocked).steps[0];
  expect({ code: blocked.code, status: step.status, missing: step.missing }).toEqual({ code: 1, status: 'waiting', missing: [`127.0.0.1:${api.admin}: does not report the new anchor ${newAnchor.slice(0, 23)}… yet`] });
  expect(blocked.stderr).toMatch(/move-issuer: waiting for 1 more: 127\.0\.0\.1:\d+: does not report the new anchor/);
  expect(fp(join(mesh.pkiDir, 'issuer.crt'))).toBe(oldIssuer);

  // api reloads; the resumed run (no --step) moves the issuer, waits for every leaf and the
  // identity service to come from it, then drops the old anchor.
  copyFileSync(mesh.bundlePath, apiAnchors);
  await waitUntil(async () => ((await adminJson(api.admin, '/identity')).anchors as unknown[]).length === 2, 'api to report both anchors', 20_000);
  const rest = await rotate('--wait', '60s');
  expect({ code: rest.code, steps: report(rest).steps.map((s) => `${s.step}:${s.status}`), complete: report(rest).complete }).toEqual({
    code: 0,
    steps: ['move-issuer:done', 'wait-issuer:done', 'remove-anchor:done'],
    complete: true,
  });
  expect(rest.stderr).toMatch(/wait-issuer: waiting for \d+ more: /);
  const newIssuer = fp(join(mesh.pkiDir, 'issuer.crt'));
  expect(newIssuer).not.toBe(oldIssuer);
  expect(new X509Certificate(readFileSync(join(mesh.pkiDir, 'issuer.crt'))).checkIssued(new X509Certificate(readFileSync(join(dir, 'new', 'ca.crt'))))).toBe(true);
  expect((statSync(join(mesh.pkiDir, 'issuer.key')).mode & 0o777).toString(8)).toBe('600');
  expect((statSync(join(dir, 'next', 'issuer.key')).mode & 0o777).toString(8)).toBe('600');
  expect(rest.stdout).not.toMatch(/PRIVATE KEY/);
  expect(bundleFps()).toEqual([newAnchor]);
  for (const p of mesh.proxies) {
    const id = await adminJson(p.admin, '/identity');
    expect((id.chain as { fingerprint_sha256: string }[])[1].fingerprint_sha256).toBe(newIssuer);
  }
  await waitUntil(async () => ((await adminJson(web.admin, '/identity')).anchors as { fingerprint_sha256: string }[]).map((a) => a.fingerprint_sha256).join() === newAnchor, 'web to drop the old anchor', 20_000);

  const again = await rotate();
  expect({ code: again.code, steps: report(again).steps, complete: report(again).complete }).toEqual({ code: 0, steps: [], complete: true });
  const stepAgain = await rotate('--step', 'add-anchor');
  expect(report(stepAgain).steps[0]).toEqual(expect.objectContaining({ step: 'add-anchor', status: 'already-done' }));
}, SLOW);
