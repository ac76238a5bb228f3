/**
 * A client-side token bucket, like client-go's: `burst` requests may go at once, then
 * `qps` per second. It keeps a burst of Certify calls (a rollout restarting a deployment)
 * from flooding the API server, which would throttle every client of the cluster, us
 * included.
 *
 * Reservation-based (as golang.org/x/time/rate): each caller takes a token at once, the
 * balance may go negative, and the caller waits until its token would have been minted.
 * Callers are therefore served in arrival order without a queue, and a caller whose wait
 * would overrun its deadline is told so immediately instead of waiting to fail.
 */
import { sleep } from './abort.js';
import { K8sError } from './errors.js';

export interface RateLimiterConfig {
  /** Sustained requests per second. Default 20 (client-go's default is 5). */
  qps?: number;
  /** Requests that may go at once after a quiet period. Default 40. */
  burst?: number;
  /** Milliseconds clock; tests pass a fake. Default Date.now. */
  now?: () => number;
}

export interface AcquireOptions {
  /** Abort the wait (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** Epoch ms by which the request must have been sent; a longer wait fails at once. */
  deadline?: number;
}

export class TokenBucketRateLimiter {
  readonly qps: number;
  readonly burst: number;
  private readonly now: () => number;
  private tokens: number;
  private last: number;

  constructor(cfg: RateLimiterConfig = {}) {
    this.qps = cfg.qps ?? 20;
    this.burst = cfg.burst ?? 40;
    if (!(this.qps > 0) || !Number.isFinite(this.qps)) throw new Error(`qps must be a positive number (got ${cfg.qps})`);
    if (!Number.isInteger(this.burst) || this.burst < 1) throw new Error(`burst must be an integer >= 1 (got ${cfg.burst})`);
    this.now = cfg.now ?? Date.now;
    this.tokens = this.burst;
    this.last = this.now();
  }

  /** How long a request arriving now would wait, in ms, without taking a token. */
  delayMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : ((1 - this.tokens) / this.qps) * 1000;
  }

  /** Takes a token; returns how long the caller must wait before using it, in ms. */
  reserve(): number {
    const wait = this.delayMs();
    this.tokens -= 1;
    return wait;
  }

  /** Gives back a reserved token that will not be used (the caller gave up waiting). */
  cancel(): void {
    this.refill();
    this.tokens = Math.min(this.burst, this.tokens + 1);
  }

  /** Waits for a token. Rejects with ERR_K8S_THROTTLED if the wait would pass `deadline`. */
  async acquire(opts: AcquireOptions = {}): Promise<void> {
    if (opts.signal?.aborted) throw opts.signal.reason;
    const wait = this.delayMs();
    if (opts.deadline !== undefined && this.now() + wait > opts.deadline) {
      throw new K8sError(
        'ERR_K8S_THROTTLED',
        `client-side rate limit (qps=${this.qps}, burst=${this.burst}) would delay the request ${Math.ceil(wait)} ms, past its deadline`,
      );
    }
    this.reserve();
    if (wait <= 0) return;
    try {
      await sleep(wait, opts.signal);
    } catch (err) {
      this.cancel();
      throw err;
    }
  }

  private refill(): void {
    const now = this.now();
    const elapsed = Math.max(0, now - this.last);
    this.last = now;
    this.tokens = Math.min(this.burst, this.tokens + (elapsed / 1000) * this.qps);
  }
}
