/**
 * `lanyard check` against real processes: a `lanyard identity` process and two `lanyard
 * proxy` processes, read through the identity service's TLS handshake and admin port and
 * the proxies' admin endpoints. A healthy mesh passes; a stopped proxy, a wrong expected
 * name and a bad issuer dropped into the issuer directory (which the identity service
 * refuses, signing on with the old one) are each reported with what to do.
 */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAnchor, createIssuer } from '../../certs/ca.js';
import type { CheckReport } from '../../src/check/check-result.js';
import { lanyard } from '../support/cli.js';
import { freePort } from '../support/mesh-harness.js';
import { startProcessMesh, type ProcessMesh } from '../support/process-mesh.js';

const SLOW = 120_000;
let mesh: ProcessMesh;

beforeAll(async () => {
  mesh = await startProcessMesh(['--poll-interval', '200ms']);
  await mesh.proxy('web');
  await mesh.proxy('api');
}, SLOW);
afterAll(() => mesh?.stop());

const check = async (...args: string[]) => {
  const r = await lanyard(['check', '-o', 'json', ...args]);
  return { code: r.code, report: JSON.parse(r.stdout) as CheckReport, stderr: r.stderr };
};
const statuses = (r: CheckReport, category: string) => Object.fromEntries(r.categories.find((c) => c.name === category)!.checks.map((c) => [c.id, c.status]));
const identityArgs = () => ['--identity-addr', mesh.identity.addr, '--identity-admin-addr', mesh.identity.admin];
const proxyArgs = () => mesh.proxies.flatMap((p) => ['--proxy', mesh.adminOf(p)]);

test('a healthy mesh: every category passes, exit 0', async () => {
  const { code, report } = await check('--issuer', mesh.pkiDir, ...identityArgs(), ...proxyArgs());
  expect(report.categories.map((c) => c.name)).toEqual(['lanyard-identity', 'lanyard-identity-service', 'lanyard-proxies']);
  const problems = report.categories.flatMap((c) => c.checks.filter((x) => x.status !== 'ok').map((x) => `${x.id}: ${x.status} ${x.details.join('; ')}`));
  expect({ code, problems }).toEqual({ code: 0, problems: [] });
}, SLOW);

test('the identity service alone: its issuer is judged from the chain it serves', async () => {
  const { report } = await check(...identityArgs());
  const pki = statuses(report, 'lanyard-identity');
  expect({ key: pki['issuer-key-matches'], time: pki['issuer-time-valid'], anchors: pki['anchors-readable'], chain: statuses(report, 'lanyard-identity-service')['identity-chain-verifies'] }).toEqual({
    key: 'skip',
    time: 'ok',
    anchors: 'skip',
    chain: 'skip',
  });
}, SLOW);

test('a stopped proxy and a wrong expected name fail, with hints', async () => {
  const closed = `127.0.0.1:${await freePort()}`;
  const { code, report } = await check('--trust-anchors', mesh.bundlePath, ...identityArgs(), '--identity-name', 'lanyard-identity.linkerd.serviceaccount.identity.linkerd.cluster.local', '--proxy', closed, ...proxyArgs());
  expect(code).toBe(2);
  const reach = report.categories.find((c) => c.name === 'lanyard-proxies')!.checks.find((c) => c.id === 'proxies-reachable')!;
  expect({ status: reach.status, details: reach.details, hint: reach.hint }).toEqual({ status: 'fail', details: [`${closed}: connection refused`], hint: expect.stringMatching(/admin address/) });
  expect(statuses(report, 'lanyard-identity-service')['identity-name']).toBe('fail');
  expect(statuses(report, 'lanyard-proxies')['proxies-anchors-match-bundle']).toBe('ok');
}, SLOW);

test('a bad issuer dropped into the directory: the files fail, the service is seen still signing with the old one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-check-bad-'));
  const files = ['issuer.crt', 'issuer.key'];
  try {
    for (const f of files) copyFileSync(join(mesh.pkiDir, f), join(dir, f));
    // A sound pair, but signed by an anchor the bundle does not hold.
    const foreign = await createAnchor({ commonName: 'root.foreign.example' });
    const other = await createIssuer({ commonName: 'identity.lanyard.cluster.local', caCertPem: foreign.certPem, caKeyPem: foreign.keyPem });
    writeFileSync(join(mesh.pkiDir, 'issuer.key'), other.keyPem, { mode: 0o600 });
    writeFileSync(join(mesh.pkiDir, 'issuer.crt'), other.certPem);
    const { code, report } = await waitForRefusal();
    expect(code).toBe(2);
    const pki = statuses(report, 'lanyard-identity');
    expect({ chain: pki['issuer-chains-to-anchor'], key: pki['issuer-key-matches'] }).toEqual({ chain: 'fail', key: 'ok' });
    expect(statuses(report, 'lanyard-identity-service')).toMatchObject({ 'identity-ready': 'ok', 'identity-serving-issuer': 'warn', 'identity-chain-verifies': 'ok' });
    const serving = report.categories.find((c) => c.name === 'lanyard-identity-service')!.checks.find((c) => c.id === 'identity-serving-issuer')!;
    expect(serving.hint).toMatch(/refused the new issuer/);
    expect(statuses(report, 'lanyard-proxies')['proxies-leaf-chains-to-bundle']).toBe('ok');
  } finally {
    for (const f of files) copyFileSync(join(dir, f), join(mesh.pkiDir, f));
    rmSync(dir, { recursive: true, force: true });
  }
}, SLOW);

/** The identity service logs the refusal once it has read the files; check after that. */
async function waitForRefusal(): Promise<Awaited<ReturnType<typeof check>>> {
  await mesh.identity.cli.waitFor(/"event":"issuer_rejected"/, 20_000);
  return check('--issuer', mesh.pkiDir, ...identityArgs(), ...proxyArgs());
}
