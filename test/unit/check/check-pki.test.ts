/**
 * The `lanyard-identity` checks on data: one row per situation, at a fixed clock. Each row
 * names the statuses it expects of the checks it is about, and the others must pass.
 */
import type { CaMaterial } from '../../../certs/ca.js';
import { checkPki, type PkiInput } from '../../../src/check/check-pki.js';
import type { CheckResult, CheckStatus } from '../../../src/check/check-result.js';
import { DEFAULT_EXPIRY_WARNING_MS } from '../../../src/check/expiry.js';
import { anchorCa, cert, input, issuerCa, leafCa, NOW, oddCa } from './check-fixtures.js';

let root: CaMaterial;
let issuer: CaMaterial;
beforeAll(async () => {
  root = await anchorCa();
  issuer = await issuerCa(root);
});

const run = (i: PkiInput) => checkPki(i, { now: NOW, expiryWarningMs: DEFAULT_EXPIRY_WARNING_MS });
const byId = (checks: CheckResult[]) => Object.fromEntries(checks.map((c) => [c.id, c]));
const ALL = [
  'anchors-readable',
  'anchors-algorithm',
  'anchors-time-valid',
  'anchors-not-expiring-soon',
  'issuer-readable',
  'issuer-algorithm',
  'issuer-time-valid',
  'issuer-not-expiring-soon',
  'issuer-is-ca',
  'issuer-key-matches',
  'issuer-path-length',
  'issuer-chains-to-anchor',
];

const rows: [string, () => Promise<PkiInput>, Record<string, CheckStatus>][] = [
  ['ok/anchor-and-issuer', async () => input([root], issuer), {}],
  ['warn/issuer-expires-within-the-window', async () => input([root], await issuerCa(root, { from: -345, days: 365 })), { 'issuer-not-expiring-soon': 'warn' }],
  [
    'warn/anchor-expires-within-the-window',
    async () => {
      const a = await anchorCa({ from: -100, days: 130 });
      return input([a], await issuerCa(a, { days: 20 }));
    },
    { 'anchors-not-expiring-soon': 'warn', 'issuer-not-expiring-soon': 'warn' },
  ],
  ['fail/issuer-expired', async () => input([root], await issuerCa(root, { from: -400, days: 365 })), { 'issuer-time-valid': 'fail', 'issuer-not-expiring-soon': 'skip' }],
  ['fail/issuer-not-yet-valid', async () => input([root], await issuerCa(root, { from: 2, days: 365 })), { 'issuer-time-valid': 'fail', 'issuer-not-expiring-soon': 'skip' }],
  [
    'fail/the-only-anchor-expired',
    async () => {
      const a = await anchorCa({ from: -400, days: 390 });
      return input([a], await issuerCa(a, { from: -300, days: 365 }));
    },
    { 'anchors-time-valid': 'fail', 'issuer-time-valid': 'fail', 'issuer-not-expiring-soon': 'skip', 'anchors-not-expiring-soon': 'ok' },
  ],
  ['fail/an-old-anchor-expired-beside-a-valid-one', async () => input([await anchorCa({ cn: 'old-root', from: -400, days: 390 }), root], issuer), { 'anchors-time-valid': 'fail' }],
  ['fail/key-of-another-issuer', async () => input([root], { certPem: issuer.certPem, keyPem: (await issuerCa(root)).keyPem }), { 'issuer-key-matches': 'fail' }],
  ['fail/a-leaf-as-issuer', async () => input([root], await leafCa(issuer)), { 'issuer-is-ca': 'fail', 'issuer-key-matches': 'skip', 'issuer-time-valid': 'skip', 'issuer-chains-to-anchor': 'skip', 'issuer-path-length': 'skip', 'issuer-not-expiring-soon': 'warn' }],
  ['fail/issuer-of-a-foreign-anchor', async () => input([await anchorCa({ cn: 'foreign' })], issuer), { 'issuer-chains-to-anchor': 'fail' }],
  ['fail/anchor-path-length-exceeded', async () => input([issuer], await issuerCa(issuer, { cn: 'sub-issuer' })), { 'issuer-chains-to-anchor': 'fail', 'issuer-path-length': 'fail' }],
  ['warn/issuer-without-path-length-limit', async () => input([root], root), { 'issuer-path-length': 'warn' }],
  ['ok/rsa-2048-anchor-beside-the-ecdsa-one', async () => input([await oddCa('rsa-2048'), root], issuer), {}],
  ['fail/rsa-1024-anchor', async () => input([await oddCa('rsa-1024'), root], issuer), { 'anchors-algorithm': 'fail' }],
  ['fail/sha1-signed-anchor', async () => input([await oddCa('ecdsa-sha1'), root], issuer), { 'anchors-algorithm': 'fail' }],
  [
    'fail/rsa-issuer',
    async () => {
      const rsa = await oddCa('rsa-2048');
      return input([rsa], rsa);
    },
    { 'issuer-algorithm': 'fail', 'issuer-path-length': 'warn' },
  ],
  [
    'fail/bundle-unreadable-issuer-still-judged',
    async () => input('garbage', issuer),
    { 'anchors-readable': 'fail', 'anchors-algorithm': 'skip', 'anchors-time-valid': 'skip', 'anchors-not-expiring-soon': 'skip', 'issuer-chains-to-anchor': 'skip' },
  ],
  [
    'skip/no-bundle-given',
    async () => ({ bundle: null, issuer: { ok: true, source: 'x', certPem: issuer.certPem, keyPem: issuer.keyPem } }),
    { 'anchors-readable': 'skip', 'anchors-algorithm': 'skip', 'anchors-time-valid': 'skip', 'anchors-not-expiring-soon': 'skip', 'issuer-chains-to-anchor': 'skip' },
  ],
  ['ok/certificate-only-from-the-identity-service', async () => input([root], { certPem: issuer.certPem, keyPem: null }), { 'issuer-key-matches': 'skip' }],
  ['fail/issuer-certificate-unreadable', async () => input([root], { certPem: 'nope', keyPem: 'nope' }), Object.fromEntries(ALL.filter((id) => id.startsWith('issuer')).map((id) => [id, id === 'issuer-readable' ? 'fail' : 'skip']))],
];

test.each(rows)('%s', async (_name, make, expected) => {
  const { category } = run(await make());
  expect(category.name).toBe('lanyard-identity');
  expect(category.checks.map((c) => c.id)).toEqual(ALL);
  const want = Object.fromEntries(ALL.map((id) => [id, expected[id] ?? 'ok']));
  const got = Object.fromEntries(category.checks.map((c) => [c.id, c.status]));
  expect(got).toEqual(want);
  for (const c of category.checks) {
    if (c.status === 'warn' || c.status === 'fail') expect({ id: c.id, details: c.details.length > 0, hint: !!c.hint }).toEqual({ id: c.id, details: true, hint: true });
  }
});

test('an expired issuer: the time check says when, the hint what to do, the rest is still judged', async () => {
  const old = await issuerCa(root, { from: -400, days: 365 });
  const checks = byId(run(input([root], old)).category.checks);
  expect(checks['issuer-time-valid'].details[0]).toMatch(/expired at Apr 27 00:00:00 2030 GMT \(ERR_ISSUER_EXPIRED\)$/);
  expect(checks['issuer-time-valid'].hint).toMatch(/lanyard certs rotate issuer --step move-issuer/);
  expect(checks['issuer-chains-to-anchor'].status).toBe('ok');
});

test('every anchor expired: the hint says to replace anchor and issuer together', async () => {
  const a = await anchorCa({ from: -400, days: 390 });
  const checks = byId(run(input([a], await issuerCa(a, { from: -300, days: 365 }))).category.checks);
  expect(checks['anchors-time-valid'].details).toEqual([expect.stringMatching(/expired at 2030-05-22T00:00:00Z \(10d 0h ago\)/)]);
  expect(checks['anchors-time-valid'].hint).toMatch(/no anchor of the bundle is valid.*already expired/);
});

test('the window is configurable: 20 days left warns at 60d, not at 10d', async () => {
  const soon = input([root], await issuerCa(root, { from: -345, days: 365 }));
  const status = (window: number) => byId(checkPki(soon, { now: NOW, expiryWarningMs: window * 86_400_000 }).category.checks)['issuer-not-expiring-soon'].status;
  expect([status(60), status(10)]).toEqual(['warn', 'ok']);
});

test('facts for later categories: the anchors, the issuer and the anchor it chains to', async () => {
  const other = await anchorCa({ cn: 'other-root' });
  const { facts } = run(input([other, root], issuer));
  expect({
    anchors: facts.anchors?.map((a) => a.fingerprint256),
    issuer: facts.issuer?.fingerprint256,
    issuerAnchor: facts.issuerAnchor?.fingerprint256,
  }).toEqual({ anchors: [cert(other).fingerprint256, cert(root).fingerprint256], issuer: cert(issuer).fingerprint256, issuerAnchor: cert(root).fingerprint256 });
});

test('the path-length failure names the constraint', async () => {
  const checks = byId(run(input([issuer], await issuerCa(issuer, { cn: 'sub-issuer' }))).category.checks);
  expect(checks['issuer-path-length'].details[0]).toMatch(/has path length 0 but 1 CA certificates follow it/);
});
