/**
 * The proxy's estimate of the identity service's clock (proxy/identity/clock-skew.ts): the
 * answer to our request is read at the midpoint of the round trip, pushes one way corrected by
 * the last half trip; past the allowance (beyond the estimate's uncertainty) it is logged once,
 * and once again when it is back within; the metric follows every estimate.
 */
import { ClockSkew } from '../../../proxy/identity/clock-skew.js';
import type { IssuerStatusMessage } from '../../../src/proto/issuer-status-codec.js';
import { toTimestamp } from '../../../src/proto/messages.js';
import { LogSink } from '../../support/log-sink.js';

const at = (ms: number): IssuerStatusMessage => ({
  issuer_fingerprint_sha256: 'AA',
  bundle_fingerprint: 'f',
  server_time: toTimestamp(new Date(ms)),
  issuer_not_after: null,
  ready: true,
  reason: '',
});

function fixture(allowanceMs = 5000) {
  const logs = new LogSink();
  const seen: number[] = [];
  const metrics = { clockSkew: (s: number) => void seen.push(s) };
  const skew = new ClockSkew({ allowanceMs, logger: logs.logger(), metrics: metrics as never });
  return { skew, logs, seen };
}

test('ok/the answer to our request: service time against the midpoint of the round trip', () => {
  const f = fixture();
  // We sent at 1000 and received at 1400 (ours); the service read 1200 + 3000 on its clock.
  f.skew.observe(at(4200), { sentAt: 1000, receivedAt: 1400 });
  expect(f.skew.skewMs).toBe(3000);
  expect(f.seen).toEqual([3]);
});

test('ok/a push: arrival minus the last half trip', () => {
  const f = fixture();
  f.skew.observe(at(4200), { sentAt: 1000, receivedAt: 1400 });
  f.skew.observe(at(61_000), { receivedAt: 60_200 }); // sent at 60_000 ours, +200 on the way
  expect(f.skew.skewMs).toBe(1000);
});

test.each([
  ['ok/behind', -9000, /ahead of/],
  ['ok/ahead', 9000, /behind/],
])('%s: past the allowance it is logged once, and once when back within', (_n, skewMs, words) => {
  const f = fixture(5000);
  f.skew.observe(at(1000 + skewMs), { sentAt: 1000, receivedAt: 1000 });
  f.skew.observe(at(2000 + skewMs), { receivedAt: 2000 });
  const all = f.logs.where({ event: 'clock_skew' });
  expect(all).toHaveLength(1);
  expect(all[0]).toMatchObject({ skew_ms: skewMs, allowance_ms: 5000 });
  expect(String(all[0].msg)).toMatch(words);
  expect(all[0].level).toBe('warn');
  f.skew.observe(at(3000), { receivedAt: 3000 });
  expect(f.logs.where({ event: 'clock_skew' })).toHaveLength(2);
  expect(String(f.logs.where({ event: 'clock_skew' })[1].msg)).toMatch(/agrees/);
  expect(f.logs.where({ event: 'clock_skew' })[1].level).toBe('info');
});

test('ok/within the uncertainty of a slow round trip: not logged', () => {
  const f = fixture(5000);
  // 6 s apparent skew, but the round trip took 4 s: it may be as little as 4 s.
  f.skew.observe(at(8000 + 6000), { sentAt: 6000, receivedAt: 10_000 });
  expect(f.skew.skewMs).toBe(6000);
  expect(f.logs.where({ event: 'clock_skew' })).toEqual([]);
});

test('ok/a status without the service time changes nothing', () => {
  const f = fixture();
  f.skew.observe({ ...at(0), server_time: null }, { receivedAt: 5 });
  expect(f.skew.skewMs).toBeNull();
  expect(f.seen).toEqual([]);
});
