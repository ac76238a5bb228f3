import { describeRemaining, formatSpan, isoTime } from '../../../certs/format.js';

const S = 1000;
const M = 60 * S;
const H = 60 * M;
const D = 24 * H;

describe('formatSpan', () => {
  test.each([
    ['ok/seconds', 42 * S, '42s'],
    ['ok/zero', 0, '0s'],
    ['ok/sub-second', 999, '0s'],
    ['ok/minutes keep seconds', 5 * M + 3 * S, '5m 3s'],
    ['ok/hours keep a zero minute', 5 * H, '5h 0m'],
    ['ok/days and hours, minutes dropped', 364 * D + 23 * H + 59 * M, '364d 23h'],
    ['ok/negative is its magnitude', -3 * D - 2 * H, '3d 2h'],
  ])('%s', (_name, ms, expected) => {
    expect(formatSpan(ms)).toBe(expected);
  });
});

describe('describeRemaining', () => {
  const now = new Date('2030-06-01T00:00:00Z');
  test.each([
    ['ok/valid', '2030-01-01T00:00:00Z', '2030-06-02T01:00:00Z', '1d 1h remaining'],
    ['ok/expired', '2030-01-01T00:00:00Z', '2030-05-29T22:00:00Z', 'EXPIRED 2d 2h ago'],
    ['ok/not yet valid', '2030-06-01T00:05:00Z', '2031-01-01T00:00:00Z', 'NOT YET VALID, starts in 5m 0s'],
  ])('%s', (_name, nb, na, expected) => {
    expect(describeRemaining(nb, na, now)).toBe(expected);
  });
});

test('isoTime drops milliseconds and accepts X.509 date strings', () => {
  expect(isoTime('Nov 18 05:24:38 2036 GMT')).toBe('2036-11-18T05:24:38Z');
});
