/**
 * Clock skew from one admin exchange: the Date header (1 s resolution) or a millisecond
 * `now`, with half the round trip as uncertainty; only skew beyond the uncertainty counts.
 */
import { describeSkew, estimateSkew, judgeSkew, DEFAULT_SKEW_LIMITS } from '../../../src/check/clock-skew.js';

const T = Date.parse('2030-06-01T00:00:10Z');

test.each([
  ['ok/date-header-same-second', { sentAt: T + 100, receivedAt: T + 300, date: new Date(T).toUTCString() }, { skewMs: 300, uncertaintyMs: 600 }, 'ok'],
  ['warn/date-header-8s-ahead', { sentAt: T, receivedAt: T + 20, date: new Date(T + 8000).toUTCString() }, { skewMs: 8490, uncertaintyMs: 510 }, 'warn'],
  ['fail/date-header-25s-behind', { sentAt: T, receivedAt: T, date: new Date(T - 25_000).toUTCString() }, { skewMs: -24_500, uncertaintyMs: 500 }, 'fail'],
  ['ok/now-field-wins-over-date', { sentAt: T, receivedAt: T + 10, date: new Date(T + 60_000).toUTCString(), remoteNow: new Date(T + 1005).toISOString() }, { skewMs: 1000, uncertaintyMs: 5 }, 'ok'],
  ['warn/a-slow-answer-widens-the-uncertainty-so-no-failure', { sentAt: T, receivedAt: T + 20_000, date: new Date(T + 30_000).toUTCString() }, { skewMs: 20_500, uncertaintyMs: 10_500 }, 'warn'],
] as const)('%s', (_name, sample, estimate, verdict) => {
  const e = estimateSkew({ remoteNow: null, ...sample });
  expect(e).toEqual(estimate);
  expect(judgeSkew(e, DEFAULT_SKEW_LIMITS)).toBe(verdict);
});

test('no Date header and no now: unknown', () => {
  expect(estimateSkew({ sentAt: T, receivedAt: T, date: null })).toBeNull();
  expect(judgeSkew(null, DEFAULT_SKEW_LIMITS)).toBe('unknown');
  expect(estimateSkew({ sentAt: T, receivedAt: T, date: 'not a date' })).toBeNull();
});

test('described with its sign and uncertainty', () => {
  expect(describeSkew({ skewMs: -24_500, uncertaintyMs: 500 })).toBe('24.5s behind this machine (±0.5s)');
  expect(describeSkew({ skewMs: 8490, uncertaintyMs: 510 })).toBe('8.5s ahead of this machine (±0.5s)');
});
