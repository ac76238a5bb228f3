/**
 * Where a rotation stands, from observed state alone, and what each step still needs:
 * blocking (the operator must act) or pending (only time: proxies reloading, renewing).
 */
import type { X509Certificate } from 'node:crypto';
import {
  anchorPrecondition,
  anchorProgress,
  anchorsToDrop,
  chainsTo,
  issuerPrecondition,
  issuerProgress,
  NO_PROXIES,
  type ObservedState,
  type ProxyState,
} from '../../../certs/rotate/rotation-state.js';
import { anchorCa, cert, issuerCa } from '../check/check-fixtures.js';

let oldA: X509Certificate;
let newA: X509Certificate;
let oldI: X509Certificate;
let newI: X509Certificate;
let otherA: X509Certificate;
beforeAll(async () => {
  const o = await anchorCa({ cn: 'old' });
  const n = await anchorCa({ cn: 'new' });
  oldA = cert(o);
  newA = cert(n);
  otherA = cert(await anchorCa({ cn: 'other' }));
  oldI = cert(await issuerCa(o, { cn: 'issuer-old' }));
  newI = cert(await issuerCa(n, { cn: 'issuer-new' }));
});

const proxy = (name: string, anchors: X509Certificate[], issuer: X509Certificate | null, error: string | null = null): ProxyState => ({
  name,
  error,
  anchors: anchors.map((a) => a.fingerprint256),
  issuerFingerprint: issuer?.fingerprint256 ?? null,
});
function state(bundle: X509Certificate[], issuer: X509Certificate, proxies: ProxyState[], o: Partial<ObservedState> = {}): ObservedState {
  return { bundle, issuer, issuerChain: [issuer], proxies, proxiesKnown: true, identity: null, ...o };
}
const plan = () => ({ newAnchor: newA, oldAnchors: null });

test.each([
  ['add-anchor: the bundle lacks the new anchor', () => state([oldA], oldI, [proxy('web', [oldA], oldI)]), 'add-anchor'],
  ['wait-anchor: a proxy has not reloaded', () => state([oldA, newA], oldI, [proxy('web', [oldA, newA], oldI), proxy('api', [oldA], oldI)]), 'wait-anchor'],
  ['wait-anchor: a proxy does not answer', () => state([oldA, newA], oldI, [proxy('web', [], null, 'connection refused')]), 'wait-anchor'],
  ['move-issuer: every proxy has both', () => state([oldA, newA], oldI, [proxy('web', [oldA, newA], oldI)]), 'move-issuer'],
  ['wait-issuer: a leaf from the old issuer', () => state([oldA, newA], newI, [proxy('web', [oldA, newA], newI), proxy('api', [oldA, newA], oldI)]), 'wait-issuer'],
  ['remove-anchor: every leaf moved', () => state([oldA, newA], newI, [proxy('web', [oldA, newA], newI)]), 'remove-anchor'],
  ['done: only the new anchor is left', () => state([newA], newI, [proxy('web', [newA], newI)]), 'done'],
  [
    'wait-issuer: the identity service still serves with the old issuer',
    () => state([oldA, newA], newI, [proxy('web', [oldA, newA], newI)], { identity: { name: 'id', error: null, servingIssuer: oldI.fingerprint256, anchors: null } }),
    'wait-issuer',
  ],
] as const)('%s', (_name, make, want) => {
  expect(anchorProgress(make(), plan())).toBe(want);
});

test('a wait with no proxy known blocks, naming how to say which', () => {
  const s = state([oldA, newA], oldI, [], { proxiesKnown: false });
  expect(anchorProgress(s, plan())).toBe('wait-anchor');
  expect(anchorPrecondition('wait-anchor', s, plan())).toEqual({ blocking: [NO_PROXIES], pending: [] });
  expect(anchorPrecondition('move-issuer', state([oldA, newA], oldI, [], { proxiesKnown: true }), plan())).toEqual({ blocking: [], pending: [] });
});

test('preconditions say what is missing, and whether only time is', () => {
  const lacking = state([oldA, newA], oldI, [proxy('10.0.0.7:4191', [oldA], oldI)]);
  expect(anchorPrecondition('move-issuer', lacking, plan())).toEqual({ blocking: [], pending: [`10.0.0.7:4191: does not report the new anchor ${newA.fingerprint256.slice(0, 23)}… yet`] });
  expect(anchorPrecondition('move-issuer', state([oldA], oldI, []), plan()).blocking).toEqual(['the new anchor is not in the bundle: run the add-anchor step first']);
  expect(anchorPrecondition('remove-anchor', lacking, plan()).blocking).toEqual(['the issuer is not yet one signed by the new anchor: run the move-issuer step first']);
  const identity = { name: '127.0.0.1:8080', error: null, servingIssuer: newI.fingerprint256, anchors: [oldA.fingerprint256] };
  expect(anchorPrecondition('wait-anchor', state([oldA, newA], oldI, [], { identity }), plan()).pending).toEqual(['identity service 127.0.0.1:8080: has not loaded the new anchor yet']);
});

test('which anchors go: the one other, the named ones, or the operator must say', () => {
  expect(anchorsToDrop(state([oldA, newA], newI, []), plan())).toEqual({ fingerprints: [oldA.fingerprint256], problem: null });
  const three = state([oldA, otherA, newA], newI, []);
  expect(anchorsToDrop(three, plan()).problem).toMatch(/holds 2 anchors besides the new one .*name the ones to drop with --old-anchor/);
  expect(anchorProgress(three, plan())).toBe('remove-anchor');
  expect(anchorPrecondition('remove-anchor', three, plan()).blocking).toEqual([expect.stringMatching(/--old-anchor/)]);
  expect(anchorsToDrop(three, { newAnchor: newA, oldAnchors: [oldA.fingerprint256] })).toEqual({ fingerprints: [oldA.fingerprint256], problem: null });
  expect(anchorProgress(state([otherA, newA], newI, []), { newAnchor: newA, oldAnchors: [oldA.fingerprint256] })).toBe('done');
  expect(anchorsToDrop(three, { newAnchor: newA, oldAnchors: [newA.fingerprint256] }).problem).toBe('--old-anchor names the new anchor');
});

test('issuer rotation: move until the new one is installed, wait until every leaf is from it', () => {
  const before = state([oldA], oldI, [proxy('web', [oldA], oldI)]);
  expect(issuerProgress(before, { newIssuer: null })).toBe('move-issuer');
  expect(issuerProgress(before, { newIssuer: newI })).toBe('move-issuer');
  const moved = state([oldA], newI, [proxy('web', [oldA], oldI)]);
  expect(issuerProgress(moved, { newIssuer: newI })).toBe('wait-issuer');
  expect(issuerPrecondition('wait-issuer', moved, { newIssuer: newI }, null).pending).toEqual([expect.stringMatching(/^web: its certificate is from issuer .*, not the current one$/)]);
  expect(issuerProgress(state([oldA], newI, [proxy('web', [oldA], newI)]), { newIssuer: newI })).toBe('done');
  expect(issuerPrecondition('wait-issuer', before, { newIssuer: newI }, null).blocking).toEqual(['the new issuer is not installed: run the move-issuer step first']);
  expect(issuerPrecondition('move-issuer', before, { newIssuer: newI }, newA).pending).toEqual([expect.stringMatching(/^web: does not report the new issuer's anchor/)]);
});

test('chainsTo follows the issuer file to the anchor by signatures', () => {
  expect([chainsTo([newI], newA), chainsTo([newI], oldA), chainsTo([newI, newA], newA), chainsTo([], newA)]).toEqual([true, false, true, false]);
});
