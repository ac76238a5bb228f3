/**
 * The `lanyard-proxies` checks on data: proxy observations as `/identity` reports them,
 * today's fields and the ones the rotation work adds, judged against a bundle and an
 * issuer at a fixed clock.
 */
import type { X509Certificate } from 'node:crypto';
import type { CaMaterial } from '../../../certs/ca.js';
import { checkProxies, type ProxyCheckInput } from '../../../src/check/check-proxies.js';
import type { CheckStatus } from '../../../src/check/check-result.js';
import { DEFAULT_SKEW_LIMITS } from '../../../src/check/clock-skew.js';
import { parseProxyIdentity, type ProxyObservation } from '../../../src/check/proxy-report.js';
import { anchorCa, cert, issuerCa, NOW } from './check-fixtures.js';

let oldRoot: CaMaterial;
let newRoot: CaMaterial;
let oldIssuer: CaMaterial;
let newIssuer: CaMaterial;
beforeAll(async () => {
  oldRoot = await anchorCa({ cn: 'root-old' });
  newRoot = await anchorCa({ cn: 'root-new' });
  oldIssuer = await issuerCa(oldRoot, { cn: 'issuer-old' });
  newIssuer = await issuerCa(newRoot, { cn: 'issuer-new' });
});

const H = 3_600_000;
const dn = (c: X509Certificate) => c.subject.replace(/\n/g, ',');

interface ProxyShape {
  issuer?: CaMaterial;
  anchors?: CaMaterial[];
  /** Leaf validity in hours from NOW. */
  from?: number;
  to?: number;
  ready?: boolean;
  error?: string;
  /** The proxy's clock minus ours, reported as `now` (ms), or through Date only. */
  skewMs?: number;
  dateOnly?: boolean;
  extended?: boolean;
  identitySkewMs?: number;
}

/** A proxy's /identity as JSON, parsed the way readProxy parses it. */
function proxy(name: string, s: ProxyShape = {}): ProxyObservation {
  if (s.error) return { address: name, error: s.error, ready: null, readyReason: null, identity: null, clock: null };
  const issuer = cert(s.issuer ?? newIssuer);
  const anchors = (s.anchors ?? [newRoot]).map(cert);
  const leafFp = `AA:${name}`;
  const body: Record<string, unknown> = {
    local_identity: `${name}.default.serviceaccount.identity.lanyard.cluster.local`,
    serial: '01',
    not_before: new Date(NOW.getTime() + (s.from ?? -2) * H).toISOString(),
    not_after: new Date(NOW.getTime() + (s.to ?? 22) * H).toISOString(),
    chain: [
      { subject: '', issuer: dn(issuer), fingerprint_sha256: leafFp },
      { subject: dn(issuer), issuer: issuer.issuer.replace(/\n/g, ','), fingerprint_sha256: issuer.fingerprint256 },
    ],
    anchors: anchors.map((a) => ({ subject: dn(a), fingerprint_sha256: a.fingerprint256, not_after: new Date(a.validTo).toISOString() })),
  };
  const remote = NOW.getTime() + (s.skewMs ?? 0);
  if (s.extended) Object.assign(body, { issuer_fingerprint_sha256: issuer.fingerprint256, chains_to: [cert(s.issuer === oldIssuer ? oldRoot : newRoot).fingerprint256], now: new Date(remote).toISOString() });
  if (s.identitySkewMs !== undefined) body.identity_service_skew_ms = s.identitySkewMs;
  const identity = parseProxyIdentity(body);
  const clock = { sentAt: NOW.getTime() - 5, receivedAt: NOW.getTime() + 5, date: new Date(remote).toUTCString(), remoteNow: s.dateOnly ? null : identity.now };
  return { address: name, error: null, ready: s.ready ?? true, readyReason: s.ready === false ? 'waiting for identity (UNAVAILABLE)' : null, identity, clock };
}

function run(proxies: ProxyObservation[], o: Partial<ProxyCheckInput> = {}): Record<string, { status: CheckStatus; details: string[] }> {
  const c = checkProxies({ proxies, anchors: [newRoot].map(cert), issuer: cert(newIssuer), issuerAnchor: cert(newRoot), now: NOW, skew: DEFAULT_SKEW_LIMITS, ...o });
  expect(c.name).toBe('lanyard-proxies');
  return Object.fromEntries(c.checks.map((x) => [x.id, { status: x.status, details: x.details }]));
}
const statuses = (r: ReturnType<typeof run>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.status]));
const OK = {
  'proxies-reachable': 'ok',
  'proxies-ready': 'ok',
  'proxies-anchors-match-bundle': 'ok',
  'proxies-leaf-chains-to-bundle': 'ok',
  'proxies-leaf-issuer': 'ok',
  'proxies-leaf-not-expiring': 'ok',
  'proxies-clock-skew': 'ok',
};

const rows: [string, () => ProxyObservation[], () => Partial<ProxyCheckInput>, Record<string, CheckStatus>][] = [
  ['ok/today-fields', () => [proxy('web'), proxy('api')], () => ({}), {}],
  ['ok/extended-fields', () => [proxy('web', { extended: true }), proxy('api', { extended: true })], () => ({}), {}],
  ['fail/unreachable', () => [proxy('web'), proxy('api', { error: 'connection refused' })], () => ({}), { 'proxies-reachable': 'fail' }],
  ['fail/not-ready', () => [proxy('web', { ready: false })], () => ({}), { 'proxies-ready': 'fail' }],
  ['warn/still-trusts-the-old-anchor', () => [proxy('web', { anchors: [oldRoot, newRoot] })], () => ({}), { 'proxies-anchors-match-bundle': 'warn' }],
  [
    'fail/lacks-the-anchor-the-issuer-chains-to',
    () => [proxy('web', { anchors: [oldRoot], issuer: oldIssuer })],
    () => ({}),
    { 'proxies-anchors-match-bundle': 'fail', 'proxies-leaf-chains-to-bundle': 'fail', 'proxies-leaf-issuer': 'warn' },
  ],
  [
    'warn/mid-rotation-leaf-from-the-old-issuer',
    () => [proxy('web', { anchors: [oldRoot, newRoot], issuer: oldIssuer })],
    () => ({ anchors: [oldRoot, newRoot].map(cert) }),
    { 'proxies-leaf-issuer': 'warn' },
  ],
  ['fail/leaf-chains-outside-the-bundle-by-chains_to', () => [proxy('web', { anchors: [newRoot], issuer: oldIssuer, extended: true })], () => ({}), { 'proxies-leaf-chains-to-bundle': 'fail', 'proxies-leaf-issuer': 'warn' }],
  ['warn/leaf-overdue-for-renewal', () => [proxy('web', { from: -20, to: 4 })], () => ({}), { 'proxies-leaf-not-expiring': 'warn' }],
  ['fail/leaf-expired', () => [proxy('web', { from: -25, to: -1 }), proxy('api', { from: -20, to: 4 })], () => ({}), { 'proxies-leaf-not-expiring': 'fail' }],
  ['warn/clock-8s-ahead-by-now-field', () => [proxy('web', { extended: true, skewMs: 8000 })], () => ({}), { 'proxies-clock-skew': 'warn' }],
  ['fail/clock-30s-behind-by-date-header', () => [proxy('web', { skewMs: -30_000, dateOnly: true })], () => ({}), { 'proxies-clock-skew': 'fail' }],
  ['ok/clock-within-the-date-header-resolution', () => [proxy('web', { skewMs: 900, dateOnly: true })], () => ({}), {}],
  ['warn/proxy-off-the-identity-service-clock', () => [proxy('web', { identitySkewMs: 7000 })], () => ({}), { 'proxies-clock-skew': 'warn' }],
  [
    'skip/no-bundle-no-issuer',
    () => [proxy('web')],
    () => ({ anchors: null, issuer: null, issuerAnchor: null }),
    { 'proxies-anchors-match-bundle': 'skip', 'proxies-leaf-chains-to-bundle': 'skip', 'proxies-leaf-issuer': 'skip' },
  ],
];

test.each(rows)('%s', (_name, proxies, o, expected) => {
  expect(statuses(run(proxies(), o()))).toEqual({ ...OK, ...expected });
});

test('no proxies: every check is skipped with the reason', () => {
  const r = run([], { noneBecause: 'no meshed pods in the cluster' });
  expect(Object.values(r)).toEqual(Object.values(OK).map(() => ({ status: 'skip', details: ['no meshed pods in the cluster'] })));
});

test('the details name each proxy and what it lacks or still trusts', () => {
  const r = run([proxy('web', { anchors: [oldRoot] , issuer: oldIssuer }), proxy('api', { anchors: [oldRoot, newRoot] })]);
  expect(r['proxies-anchors-match-bundle'].details).toEqual([
    `web: lacks ${cert(newRoot).fingerprint256}; still trusts ${cert(oldRoot).fingerprint256}`,
    `api: still trusts ${cert(oldRoot).fingerprint256}`,
  ]);
  expect(r['proxies-leaf-issuer'].details).toEqual([expect.stringMatching(/^web: issued by CN=issuer-old, renews by 2030-06-01T14:48:00Z$/)]);
});

test('parseProxyIdentity tolerates missing and extra fields, and upper-cases fingerprints', () => {
  const id = parseProxyIdentity({ local_identity: 'x', ready: false, anchors: [{ subject: 'CN=a', fingerprint_sha256: 'ab:cd' }, { subject: 'no fp' }], chain: 'nope', future_field: 1 });
  expect(id).toMatchObject({ localIdentity: 'x', chain: [], issuerFingerprint: null, chainsTo: null, anchors: [{ subject: 'CN=a', fingerprint: 'AB:CD', notAfter: null }] });
  expect(() => parseProxyIdentity([1])).toThrow('/identity did not answer a JSON object');
});
