/**
 * The `lanyard-identity-service` checks on data: a served chain (leaf for the service's name
 * and the issuer), the admin /ready and its Date header, judged at a fixed clock.
 */
import { X509Certificate } from 'node:crypto';
import type { CaMaterial } from '../../../certs/ca.js';
import { checkIdentityService, type IdentityServiceInput } from '../../../src/check/check-identity-service.js';
import type { CheckStatus } from '../../../src/check/check-result.js';
import { DEFAULT_SKEW_LIMITS } from '../../../src/check/clock-skew.js';
import { anchorCa, cert, issuerCa, leafCa, NOW } from './check-fixtures.js';

const NAME = 'lanyard-identity.lanyard.serviceaccount.identity.lanyard.cluster.local';
let root: CaMaterial;
let issuer: CaMaterial;
let serving: X509Certificate;
beforeAll(async () => {
  root = await anchorCa();
  issuer = await issuerCa(root);
  serving = cert(await leafCa(issuer, NAME));
});

function input(o: Partial<IdentityServiceInput> = {}): IdentityServiceInput {
  return {
    tls: { address: '127.0.0.1:8080', error: null, chain: [serving, cert(issuer)] },
    admin: { address: '127.0.0.1:9990', error: null, ready: true, readyReason: null, clock: { sentAt: NOW.getTime(), receivedAt: NOW.getTime() + 4, date: NOW.toUTCString() } },
    expectedName: NAME,
    anchors: [cert(root)],
    issuer: cert(issuer),
    now: NOW,
    skew: DEFAULT_SKEW_LIMITS,
    ...o,
  };
}
const statuses = (i: IdentityServiceInput): Record<string, CheckStatus> => Object.fromEntries(checkIdentityService(i).checks.map((c) => [c.id, c.status]));
const OK = { 'identity-reachable': 'ok', 'identity-name': 'ok', 'identity-chain-verifies': 'ok', 'identity-serving-issuer': 'ok', 'identity-ready': 'ok', 'identity-clock-skew': 'ok' };

const rows: [string, () => Partial<IdentityServiceInput>, Record<string, CheckStatus>][] = [
  ['ok/serving-with-the-issuer-checked', () => ({}), {}],
  ['fail/unreachable', () => ({ tls: { address: '127.0.0.1:1', error: 'connection refused', chain: [] } }), { 'identity-reachable': 'fail', 'identity-name': 'skip', 'identity-chain-verifies': 'skip', 'identity-serving-issuer': 'skip' }],
  ['fail/wrong-name', () => ({ expectedName: 'lanyard-identity.linkerd.serviceaccount.identity.linkerd.cluster.local' }), { 'identity-name': 'fail' }],
  ['fail/chain-from-another-anchor', () => ({ anchors: [cert(rootOther)] }), { 'identity-chain-verifies': 'fail' }],
  ['warn/still-signing-with-the-old-issuer', () => ({ issuer: cert(otherIssuer) }), { 'identity-serving-issuer': 'warn' }],
  ['fail/not-ready', () => ({ admin: { address: 'a', error: null, ready: false, readyReason: 'issuer expired at ...', clock: { sentAt: NOW.getTime(), receivedAt: NOW.getTime(), date: NOW.toUTCString() } } }), { 'identity-ready': 'fail' }],
  ['fail/clock-40s-ahead', () => ({ admin: { address: 'a', error: null, ready: true, readyReason: null, clock: { sentAt: NOW.getTime(), receivedAt: NOW.getTime(), date: new Date(NOW.getTime() + 40_000).toUTCString() } } }), { 'identity-clock-skew': 'fail' }],
  ['fail/admin-unreachable', () => ({ admin: { address: 'a', error: 'connection refused', ready: null, readyReason: null, clock: null } }), { 'identity-ready': 'fail', 'identity-clock-skew': 'skip' }],
  ['skip/only-the-admin-address', () => ({ tls: null }), { 'identity-reachable': 'skip', 'identity-name': 'skip', 'identity-chain-verifies': 'skip', 'identity-serving-issuer': 'skip' }],
  ['skip/no-bundle-no-issuer', () => ({ anchors: null, issuer: null }), { 'identity-chain-verifies': 'skip', 'identity-serving-issuer': 'skip' }],
];

let rootOther: CaMaterial;
let otherIssuer: CaMaterial;
beforeAll(async () => {
  rootOther = await anchorCa({ cn: 'other-root' });
  otherIssuer = await issuerCa(root, { cn: 'identity-next' });
});

test.each(rows)('%s', (_name, o, expected) => {
  expect(statuses(input(o()))).toEqual({ ...OK, ...expected });
});

test('a wrong name says what it presents and what proxies expect', () => {
  const c = checkIdentityService(input({ expectedName: 'x.example' })).checks.find((x) => x.id === 'identity-name')!;
  expect(c.details).toEqual([`it presents ${NAME}, proxies expect x.example`]);
  expect(c.hint).toMatch(/--trust-domain, --control-namespace/);
});
