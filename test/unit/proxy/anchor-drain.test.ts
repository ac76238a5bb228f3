/**
 * The anchor drain's verdicts (proxy/tls/anchor-drain.ts), on real certificates: when an
 * anchor leaves the bundle, what its peers were authenticated under is drained at once and
 * closed after the grace period; what chains to an anchor still in the bundle is kept; a
 * registration made shortly after a removal is judged at once; a connection's verdict is
 * computed once for all the streams it carries.
 */
import { jest } from '@jest/globals';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { AnchorDrain, type DrainTarget } from '../../../proxy/tls/anchor-drain.js';
import { TrustBundle } from '../../../src/pki/trust-bundle.js';
import { workloadLeaf } from '../../support/mesh-harness.js';
import { createTestPki, type TestPki } from '../../support/test-ca.js';
import { LogSink } from '../../support/log-sink.js';

let a: TestPki;
let b: TestPki;
let leafA: X509Certificate;
let leafB: X509Certificate;

beforeAll(async () => {
  [a, b] = await Promise.all([createTestPki({ anchorCn: 'root-a' }), createTestPki({ anchorCn: 'root-b' })]);
  leafA = new X509Certificate((await workloadLeaf({ issuerCert: a.issuerCert, issuerKey: a.issuerKey, ns: 'default', sa: 'web' })).certPem);
  leafB = new X509Certificate((await workloadLeaf({ issuerCert: b.issuerCert, issuerKey: b.issuerKey, ns: 'default', sa: 'web' })).certPem);
});

/** What OpenSSL hands node: leaf → issuer → anchor, the anchor its own issuer. */
/** What OpenSSL hands node for a resumed session: the peer's leaf alone. */
function peer(chain: X509Certificate[], o: { destroyed?: boolean; resumed?: boolean } = {}): TLSSocket & { reads: number } {
  type Detailed = { raw: Buffer; fingerprint256: string; issuerCertificate?: Detailed };
  const nodes: Detailed[] = chain.map((c) => ({ raw: c.raw, fingerprint256: c.fingerprint256 }));
  nodes.forEach((n, i) => (n.issuerCertificate = nodes[i + 1] ?? n));
  const s = { destroyed: o.destroyed ?? false, reads: 0, isSessionReused: () => o.resumed ?? false, getPeerCertificate: () => (s.reads++, nodes[0]) };
  return s as unknown as TLSSocket & { reads: number };
}

function target(tls: TLSSocket, kind: DrainTarget['kind'] = 'session') {
  const t = { direction: 'inbound' as const, kind, tls, drained: 0, closed: 0, drain: () => void t.drained++, close: () => void t.closed++ };
  return t;
}

function fixture() {
  let now = 1_000_000;
  const logs = new LogSink();
  const counted: string[] = [];
  const metrics = { drained: (d: string, k: string) => void counted.push(`${d}/${k}`) };
  const drain = new AnchorDrain({ graceMs: 10_000, logger: logs.logger(), metrics: metrics as never, clock: () => now });
  return { drain, logs, counted, advance: (ms: number) => ((now += ms), jest.advanceTimersByTime(ms)) };
}

const onlyB = () => TrustBundle.fromPem(b.anchor.certPem);

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('ok/removing anchor A drains what A authenticated, keeps what B did; closes after the grace period', () => {
  const f = fixture();
  const underA = target(peer([leafA, a.issuerCert, a.anchorCert]));
  const underAConn = target(peer([leafA, a.issuerCert]), 'connection'); // the peer sent no anchor
  const underB = target(peer([leafB, b.issuerCert, b.anchorCert]));
  for (const t of [underA, underAConn, underB]) f.drain.add(t);
  expect(f.drain.anchorsRemoved(onlyB(), [a.anchorCert.fingerprint256])).toBe(2);
  expect([underA.drained, underAConn.drained, underB.drained]).toEqual([1, 1, 0]);
  expect(underA.closed).toBe(0);
  f.advance(9_999);
  expect(underA.closed).toBe(0);
  f.advance(1);
  expect([underA.closed, underAConn.closed, underB.closed]).toEqual([1, 1, 0]);
  expect(f.counted.sort()).toEqual(['inbound/connection', 'inbound/session']);
  expect(f.drain.size).toBe(1);
  expect(f.logs.where({ event: 'anchor_drain' })[0]).toMatchObject({ drained: 2, kept: 1, removed: [a.anchorCert.fingerprint256] });
});

test('ok/a registration just after the removal is judged at once; a minute later it is registered', () => {
  const f = fixture();
  f.drain.anchorsRemoved(onlyB(), [a.anchorCert.fingerprint256]);
  const late = target(peer([leafA, a.issuerCert]));
  f.drain.add(late);
  expect(late.drained).toBe(1);
  expect(f.drain.size).toBe(0);
  f.advance(60_001);
  const later = target(peer([leafA, a.issuerCert]));
  f.drain.add(later);
  expect(later.drained).toBe(0);
  expect(f.drain.size).toBe(1);
});

test('ok/one verdict per TLS connection, however many streams it carries', () => {
  const f = fixture();
  const tls = peer([leafA, a.issuerCert]);
  const streams = Array.from({ length: 50 }, () => target(tls, 'connection'));
  for (const s of streams) f.drain.add(s);
  expect(f.drain.anchorsRemoved(onlyB(), [a.anchorCert.fingerprint256])).toBe(50);
  expect(tls.reads).toBe(1);
});

test.each([
  ['ok/socket-already-gone', () => peer([leafA, a.issuerCert], { destroyed: true })],
  ['ok/peer-without-certificate', () => peer([])],
])('%s: nothing to drain', (_n, make) => {
  const f = fixture();
  const t = target(make());
  f.drain.add(t);
  expect(f.drain.anchorsRemoved(onlyB(), [a.anchorCert.fingerprint256])).toBe(0);
  expect(t.drained).toBe(0);
});

test('ok/unregistered (closed by itself) before the removal: not touched', () => {
  const f = fixture();
  const t = target(peer([leafA, a.issuerCert]));
  const unregister = f.drain.add(t);
  unregister();
  expect(f.drain.anchorsRemoved(onlyB(), [a.anchorCert.fingerprint256])).toBe(0);
  expect(t.drained).toBe(0);
});

test('ok/an expired peer leaf is judged by where it chains, not by its expiry', async () => {
  const f = fixture();
  const c = await createTestPki({ anchorCn: 'root-c', notBefore: new Date(Date.now() - 3 * 3600_000) });
  const old = new X509Certificate(
    (await workloadLeaf({ issuerCert: c.issuerCert, issuerKey: c.issuerKey, ns: 'default', sa: 'web', notBefore: new Date(Date.now() - 7200_000), notAfter: new Date(Date.now() - 3600_000) })).certPem,
  );
  const t = target(peer([old, c.issuerCert]));
  f.drain.add(t);
  expect(f.drain.anchorsRemoved(TrustBundle.fromPem(c.anchor.certPem), [a.anchorCert.fingerprint256])).toBe(0);
  const elsewhere = target(peer([old, c.issuerCert]));
  f.drain.add(elsewhere);
  f.advance(60_001);
  expect(f.drain.anchorsRemoved(onlyB(), [c.anchorCert.fingerprint256])).toBe(2);
});

test('ok/a resumed session (leaf alone) is completed with a known issuer; unknown is drained', () => {
  const f = fixture();
  const known = target(peer([leafB], { resumed: true }));
  const unknown = target(peer([leafA], { resumed: true }));
  f.drain.learnIssuers([b.issuerCert, b.anchorCert]); // the anchor (self-signed) is not kept
  f.drain.add(known);
  f.drain.add(unknown);
  expect(f.drain.anchorsRemoved(onlyB(), [a.anchorCert.fingerprint256])).toBe(1);
  expect([known.drained, unknown.drained]).toEqual([0, 1]);
});

test('ok/full chains are judged first and teach the issuers resumed sessions need', () => {
  const f = fixture();
  const resumed = target(peer([leafB], { resumed: true }));
  const full = target(peer([leafB, b.issuerCert, b.anchorCert]));
  f.drain.add(resumed); // registered first, judged after the full chain
  f.drain.add(full);
  expect(f.drain.anchorsRemoved(onlyB(), [a.anchorCert.fingerprint256])).toBe(0);
});

test('ok/a session resumed after the removal is registered, not drained (its ticket is from the new contexts)', () => {
  const f = fixture();
  f.drain.anchorsRemoved(onlyB(), [a.anchorCert.fingerprint256]);
  const resumed = target(peer([leafB], { resumed: true }));
  f.drain.add(resumed);
  expect(resumed.drained).toBe(0);
  expect(f.drain.size).toBe(1);
});

test('ok/a resumed client-side session (OpenSSL keeps no peer certificate) is drained: unknown is not trusted', () => {
  const f = fixture();
  const t = target(peer([], { resumed: true }));
  f.drain.add(t);
  expect(f.drain.anchorsRemoved(onlyB(), [a.anchorCert.fingerprint256])).toBe(1);
});
