/**
 * A re-issue asked for within a window (proxy/identity/workload-identity.ts `reissue`) is
 * made at a uniformly random moment inside it (injected random and fake timers), is counted
 * under its cause, never postpones an attempt already due sooner, and one asked for at once
 * wins over one further away.
 */
import { jest } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkloadIdentity } from '../../../proxy/identity/workload-identity.js';
import { TlsState } from '../../../proxy/tls/tls-state.js';
import { LogSink } from '../../support/log-sink.js';
import { createTestPki } from '../../support/test-ca.js';

let anchorPem: string;
beforeAll(async () => void (anchorPem = (await createTestPki()).anchor.certPem));

function fixture(draws: number[]) {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-reissue-'));
  writeFileSync(join(dir, 'token'), 'a-token');
  /** When each attempt started (the re-issue is counted as it starts), ms after the fixture. */
  const calls: number[] = [];
  const counted: string[] = [];
  let i = 0;
  const identity = new WorkloadIdentity({
    identity: 'web.default.serviceaccount.identity.lanyard.cluster.local',
    connect: () => ({
      certify: async () => {
        throw new Error('UNAVAILABLE: test');
      },
      close: () => undefined,
      watchIssuer: () => ({ cancel: () => undefined, sentAt: 0 }),
    }),
    tokenFile: join(dir, 'token'),
    tls: new TlsState(anchorPem),
    logger: new LogSink().logger(),
    metrics: { reissued: (c: string) => void (counted.push(c), calls.push(Date.now())), identityRefreshed: () => undefined } as never,
    random: () => draws[i++ % draws.length],
    maxBackoffMs: 3_600_000,
    initialBackoffMs: 3_600_000,
  });
  return { identity, calls, counted, t0: Date.now() };
}

beforeEach(() => jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] }));
afterEach(() => jest.useRealTimers());

async function advance(ms: number): Promise<void> {
  await jest.advanceTimersByTimeAsync(ms);
}

test.each([
  [0, 0],
  [0.25, 15_000],
  [0.999, 59_940],
])('ok/random %p in a 60 s window: the Certify call at %p ms', async (draw, expected) => {
  const f = fixture([draw]);
  f.identity.reissue('issuer-changed', 60_000);
  await advance(Math.max(0, expected - 1));
  expect(f.calls.length).toBe(expected === 0 ? 1 : 0);
  await advance(1);
  expect(f.calls.map((t) => t - f.t0)).toEqual([expected]);
  expect(f.counted).toEqual(['issuer-changed']);
  f.identity.stop();
});

test('ok/a later draw never postpones an attempt due sooner; an immediate one wins', async () => {
  const f = fixture([0.5, 0.9]);
  f.identity.reissue('issuer-changed', 60_000); // due at 30 s
  f.identity.reissue('issuer-changed', 60_000); // would be 54 s: ignored
  await advance(10_000);
  expect(f.calls).toEqual([]);
  // The one due at 30 s was replaced by the immediate one, not added to it.
  f.identity.reissue('leaf-untrusted'); // now
  await advance(1);
  expect(f.calls.map((t) => t - f.t0)).toEqual([10_000]);
  expect(f.counted).toEqual(['leaf-untrusted']);
  f.identity.stop();
  await advance(60_000);
  expect(f.counted).toEqual(['leaf-untrusted']);
});
