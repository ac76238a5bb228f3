/**
 * How a proxy learns of an issuer change (proxy/identity/issuer-watch.ts), with an injected
 * clock, random source and fake timers: a status naming another issuer than the leaf's asks
 * for one re-issue within the window (not one per heartbeat); the same issuer, a service that
 * is not ready, or no leaf yet ask for nothing; a stream that ends is reopened with capped
 * backoff; a new Certify connection moves the stream at once; a service without the stream
 * (UNIMPLEMENTED, Linkerd's) gets a Certify at a random moment in the second half of every window.
 */
import { jest } from '@jest/globals';
import { IssuerWatch } from '../../../proxy/identity/issuer-watch.js';
import { ClockSkew } from '../../../proxy/identity/clock-skew.js';
import { GrpcError, GrpcStatus } from '../../../proxy/grpc/grpc-channel.js';
import type { IssuerStatusMessage } from '../../../src/proto/issuer-status-codec.js';
import type { ReissueCause } from '../../../proxy/identity/identity-source.js';
import { LogSink } from '../../support/log-sink.js';

type Handlers = { onStatus: (s: IssuerStatusMessage) => void; onEnd: (err: GrpcError | null) => void };

const OLD = 'AA:AA';
const NEW = 'BB:BB';

function status(issuer: string, o: Partial<IssuerStatusMessage> = {}): IssuerStatusMessage {
  return { issuer_fingerprint_sha256: issuer, bundle_fingerprint: 'f', server_time: null, issuer_not_after: null, ready: true, reason: '', ...o };
}

function fixture(o: { windowMs?: number; random?: () => number } = {}) {
  const calls: { h: Handlers; cancelled: boolean }[] = [];
  const reissues: { cause: ReissueCause; withinMs?: number; at: number }[] = [];
  const replaced = new Set<() => void>();
  let leaf: string | null = OLD;
  let now = 1_000_000;
  const logs = new LogSink();
  const identity = {
    watchIssuer: (h: Handlers) => {
      const c = { h, cancelled: false };
      calls.push(c);
      return { cancel: () => void (c.cancelled = true), sentAt: now };
    },
    leafIssuerFingerprint: () => leaf,
    reissue: (cause: ReissueCause, withinMs?: number) => void reissues.push({ cause, withinMs, at: now }),
    onClientReplaced: (l: () => void) => (replaced.add(l), () => void replaced.delete(l)),
  };
  const watch = new IssuerWatch({
    identity,
    windowMs: o.windowMs ?? 60_000,
    skew: new ClockSkew({ logger: logs.logger() }),
    logger: logs.logger(),
    clock: () => now,
    random: o.random ?? (() => 0.5),
  });
  return {
    watch,
    calls,
    reissues,
    logs,
    last: () => calls[calls.length - 1],
    setLeaf: (f: string | null) => void (leaf = f),
    advance: (ms: number) => {
      now += ms;
      jest.advanceTimersByTime(ms);
    },
    replaceClient: () => replaced.forEach((l) => l()),
  };
}

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('ok/another issuer: one re-issue within the window, not one per heartbeat', () => {
  const f = fixture({ windowMs: 60_000 });
  f.watch.start();
  f.last().h.onStatus(status(NEW));
  expect(f.reissues).toEqual([{ cause: 'issuer-changed', withinMs: 60_000, at: 1_000_000 }]);
  f.advance(30_000);
  f.last().h.onStatus(status(NEW)); // heartbeat, the re-issue not yet done
  expect(f.reissues).toHaveLength(1);
  // A window later and still on the old issuer (a replica answered from the old one): again.
  f.advance(30_001);
  f.last().h.onStatus(status(NEW));
  expect(f.reissues).toHaveLength(2);
  expect(f.logs.where({ event: 'issuer_change_seen' })).toHaveLength(2);
  expect(f.watch.last?.issuer_fingerprint_sha256).toBe(NEW);
  f.watch.stop();
});

test('ok/after the leaf moved to the new issuer, a later change is seen at once', () => {
  const f = fixture();
  f.watch.start();
  f.last().h.onStatus(status(NEW));
  f.setLeaf(NEW);
  f.last().h.onStatus(status(NEW));
  f.advance(1000);
  f.last().h.onStatus(status('CC:CC'));
  expect(f.reissues.map((r) => r.cause)).toEqual(['issuer-changed', 'issuer-changed']);
  f.watch.stop();
});

test.each([
  ['ok/same-issuer', status(OLD), OLD],
  ['ok/service-not-ready', status(NEW, { ready: false, reason: 'issuer expired' }), OLD],
  ['ok/service-without-issuer', status(''), OLD],
  ['ok/no-leaf-yet', status(NEW), null],
])('%s: no re-issue', (_n, s, leaf) => {
  const f = fixture();
  f.setLeaf(leaf);
  f.watch.start();
  f.last().h.onStatus(s);
  expect(f.reissues).toEqual([]);
  f.watch.stop();
});

test('ok/a stream that ends is reopened with jittered capped backoff; a status resets it', () => {
  const f = fixture({ random: () => 1 });
  f.watch.start();
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    const before = f.calls.length;
    f.last().h.onEnd(new GrpcError(GrpcStatus.UNAVAILABLE, 'connection reset'));
    let waited = 0;
    while (f.calls.length === before) (f.advance(100), (waited += 100));
    delays.push(waited);
  }
  expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  f.last().h.onStatus(status(OLD));
  f.last().h.onEnd(null); // the server ended it cleanly (stopping): reopened the same way
  f.advance(1000);
  expect(f.calls).toHaveLength(9);
  f.watch.stop();
});

test('ok/a new Certify connection (new anchors) moves the stream at once, and the old one is ignored', () => {
  const f = fixture();
  f.watch.start();
  const first = f.last();
  f.replaceClient();
  expect(first.cancelled).toBe(true);
  expect(f.calls).toHaveLength(2);
  first.h.onEnd(new GrpcError(GrpcStatus.CANCELLED, 'cancelled'));
  f.advance(60_000);
  expect(f.calls).toHaveLength(2); // the cancelled call's end reopens nothing
  f.watch.stop();
});

test('ok/UNIMPLEMENTED (a Linkerd identity service): a Certify at a random moment in the second half of every window', () => {
  const draws = [0, 1, 0.5];
  let i = 0;
  const f = fixture({ windowMs: 10_000, random: () => draws[i++ % draws.length] });
  f.watch.start();
  f.last().h.onEnd(new GrpcError(GrpcStatus.UNIMPLEMENTED, 'unknown service lanyard.identity.v1.IssuerStatus'));
  expect(f.watch.mode).toBe('periodic-certify');
  expect(f.logs.where({ event: 'issuer_watch_unsupported' })).toHaveLength(1);
  for (let t = 0; t < 30_000; t += 100) f.advance(100);
  const at = f.reissues.map((r) => r.at - 1_000_000);
  expect(f.reissues.every((r) => r.cause === 'issuer-check')).toBe(true);
  // 5 s (random 0), then 10 s later (random 1), then 7.5 s later (random 0.5), then 5 s.
  expect(at).toEqual([5000, 15_000, 22_500, 27_500]);
  expect(f.calls).toHaveLength(1); // the stream is not retried
  f.watch.stop();
  f.advance(30_000);
  expect(f.reissues).toHaveLength(4);
});

test('ok/stopped: nothing reopens and nothing is re-issued', () => {
  const f = fixture();
  f.watch.start();
  f.watch.stop();
  expect(f.last().cancelled).toBe(true);
  f.last().h.onEnd(new GrpcError(GrpcStatus.UNAVAILABLE, 'x'));
  f.advance(120_000);
  expect(f.calls).toHaveLength(1);
});
