/**
 * How far another Lanyard process's clock is from ours, from one HTTP exchange with its
 * admin port: the `Date` header every admin response carries (1 s resolution), or the
 * proxy's `now` field (ms) when it has one. The remote clock was read somewhere between our
 * send and our receive, so the estimate carries half the round trip (and, for `Date`, the
 * second it was truncated to) as its uncertainty; a check only calls a skew real when it
 * exceeds the allowance by more than that.
 */

export interface ClockSample {
  /** Our clock (ms since the epoch) when the request was sent and when the answer arrived. */
  sentAt: number;
  receivedAt: number;
  /** The response's `Date` header, if any. */
  date: string | null;
  /** A millisecond reading of the remote clock from the body (the proxy's `now`), if any. */
  remoteNow?: string | null;
}

export interface SkewEstimate {
  /** Remote clock minus ours, ms: positive when the remote clock is ahead. */
  skewMs: number;
  /** The estimate is within ±this of the truth. */
  uncertaintyMs: number;
}

export function estimateSkew(s: ClockSample): SkewEstimate | null {
  const middle = (s.sentAt + s.receivedAt) / 2;
  const halfTrip = Math.max(0, s.receivedAt - s.sentAt) / 2;
  const precise = s.remoteNow ? Date.parse(s.remoteNow) : NaN;
  if (Number.isFinite(precise)) return { skewMs: Math.round(precise - middle), uncertaintyMs: Math.ceil(halfTrip) };
  const seconds = s.date ? Date.parse(s.date) : NaN;
  if (!Number.isFinite(seconds)) return null;
  // `Date` is the remote time truncated to the second: the remote clock read [D, D + 1s).
  return { skewMs: Math.round(seconds + 500 - middle), uncertaintyMs: Math.ceil(halfTrip + 500) };
}

export type SkewVerdict = 'ok' | 'warn' | 'fail' | 'unknown';

export interface SkewLimits {
  /** Beyond this the skew breaks certificates: leaves are backdated by the identity service's --skew (20 s). */
  failMs: number;
  /** Beyond this it is worth fixing before it grows. */
  warnMs: number;
}

/** Default limits: fail past the identity service's default backdating (20 s), warn past 5 s. */
export const DEFAULT_SKEW_LIMITS: SkewLimits = { failMs: 20_000, warnMs: 5_000 };

/** Judges an estimate: only the part of the skew beyond its uncertainty counts. */
export function judgeSkew(e: SkewEstimate | null, limits: SkewLimits): SkewVerdict {
  if (!e) return 'unknown';
  const certain = Math.abs(e.skewMs) - e.uncertaintyMs;
  if (certain > limits.failMs) return 'fail';
  if (certain > limits.warnMs) return 'warn';
  return 'ok';
}

/** `3.2s ahead (±0.5s)`. */
export function describeSkew(e: SkewEstimate): string {
  const s = (ms: number) => `${(Math.abs(ms) / 1000).toFixed(1)}s`;
  return `${s(e.skewMs)} ${e.skewMs >= 0 ? 'ahead of' : 'behind'} this machine (±${s(e.uncertaintyMs)})`;
}
