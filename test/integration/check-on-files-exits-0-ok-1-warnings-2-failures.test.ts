/**
 * `lanyard check` on files, as an operator runs it: 0 when every check passes, 1 for
 * warnings only (an issuer inside the expiry window), 2 for a failure (an expired issuer,
 * with the hint that says what to do), and a usage error also 2 but with a `lanyard:` line
 * on stderr and nothing on stdout, so a script can tell the two apart.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAnchor, createIssuer } from '../../certs/ca.js';
import { lanyard } from '../support/cli.js';
import { writeIssuerDir } from '../support/test-ca.js';

const SLOW = 60_000;
const DAY = 86_400_000;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-check-files-'));
  const anchor = await createAnchor({ commonName: 'root.lanyard.cluster.local', validityDays: 3650 });
  const issuer = (days: number, from = Date.now() - 60_000) => createIssuer({ commonName: 'identity.lanyard.cluster.local', caCertPem: anchor.certPem, caKeyPem: anchor.keyPem, validityDays: days, notBefore: new Date(from) });
  writeIssuerDir(join(dir, 'good'), { anchor, issuer: await issuer(365) });
  writeIssuerDir(join(dir, 'soon'), { anchor, issuer: await issuer(20) });
  writeIssuerDir(join(dir, 'expired'), { anchor, issuer: await issuer(1, Date.now() - 3 * DAY) });
  writeFileSync(join(dir, 'bundle.pem'), anchor.certPem);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('a sound issuer and bundle: exit 0, every check ✓', async () => {
  const r = await lanyard(['check', '--issuer', join(dir, 'good'), '--trust-anchors', join(dir, 'bundle.pem')]);
  expect({ code: r.code, last: r.stdout.trim().split('\n').pop(), problems: r.stdout.match(/^[‼×] .*/gm) }).toEqual({ code: 0, last: 'Status check results are ✓', problems: null });
}, SLOW);

test('an issuer expiring inside the window: exit 1, and --expiry-warning moves the window', async () => {
  const r = await lanyard(['check', '--issuer', join(dir, 'soon')]);
  expect({ code: r.code, warned: r.stdout.match(/^‼ .*/gm) }).toEqual({ code: 1, warned: ['‼ the issuer certificate is valid for at least 60d'] });
  expect(r.stdout).toMatch(/hint: rotate the issuer: lanyard certs rotate issuer/);
  expect((await lanyard(['check', '--issuer', join(dir, 'soon'), '--expiry-warning', '10d'])).code).toBe(0);
}, SLOW);

test('an expired issuer: exit 2, the failure says when and what to do', async () => {
  const r = await lanyard(['check', '--issuer', join(dir, 'expired'), '-o', 'json']);
  const report = JSON.parse(r.stdout) as { status: string; categories: { checks: { id: string; status: string; details: string[]; hint?: string }[] }[] };
  const time = report.categories[0].checks.find((c) => c.id === 'issuer-time-valid')!;
  expect({ code: r.code, status: report.status, check: time.status }).toEqual({ code: 2, status: 'fail', check: 'fail' });
  expect(time.details[0]).toMatch(/expired at .* \(ERR_ISSUER_EXPIRED\)$/);
  expect(time.hint).toMatch(/Certify answers UNAVAILABLE.*lanyard certs rotate issuer --step move-issuer/);
}, SLOW);

test('usage errors exit 2 too, but print as usage and no report', async () => {
  for (const args of [['check'], ['check', '--issuer', join(dir, 'good'), '--expiry-warning', '60'], ['check', '--proxy', 'nohost']]) {
    const r = await lanyard(args);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr.split('\n')[0] }).toEqual({ code: 2, stdout: '', stderr: expect.stringMatching(/^lanyard: /) });
  }
}, SLOW);
