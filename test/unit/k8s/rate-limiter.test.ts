import { K8sError } from '../../../src/k8s/errors.js';
import { TokenBucketRateLimiter } from '../../../src/k8s/rate-limiter.js';

function limiter(qps: number, burst: number) {
  let now = 1_000_000;
  const l = new TokenBucketRateLimiter({ qps, burst, now: () => now });
  return { l, advance: (ms: number) => (now += ms), now: () => now };
}

describe('TokenBucketRateLimiter', () => {
  test('ok/burst-then-qps: the burst goes at once, then one token per 1/qps', () => {
    const { l } = limiter(2, 2);
    expect([l.reserve(), l.reserve(), l.reserve(), l.reserve()]).toEqual([0, 0, 500, 1000]);
  });

  test('ok/refill: tokens come back with time, never above burst', () => {
    const { l, advance } = limiter(10, 3);
    l.reserve();
    l.reserve();
    l.reserve();
    expect(l.delayMs()).toBe(100);
    advance(100);
    expect(l.delayMs()).toBe(0);
    advance(10_000);
    expect([l.reserve(), l.reserve(), l.reserve(), l.reserve()]).toEqual([0, 0, 0, 100]);
  });

  test('ok/cancel: a token given back shortens the next wait', () => {
    const { l } = limiter(1, 1);
    l.reserve();
    expect(l.reserve()).toBe(1000);
    l.cancel();
    expect(l.delayMs()).toBe(1000);
  });

  test('fail/deadline: a wait that would pass the deadline is refused without taking a token', async () => {
    const { l, now } = limiter(1, 1);
    await l.acquire();
    const err = await l.acquire({ deadline: now() + 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(K8sError);
    expect(err).toMatchObject({ code: 'ERR_K8S_THROTTLED' });
    expect(l.delayMs()).toBe(1000);
  });

  test('ok/acquire-waits: the third acquire at qps=20, burst=2 waits ~50 ms', async () => {
    const l = new TokenBucketRateLimiter({ qps: 20, burst: 2 });
    const started = Date.now();
    await Promise.all([l.acquire(), l.acquire(), l.acquire()]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(45);
  });

  test('fail/abort: an aborted wait rejects with the reason and returns its token', async () => {
    const l = new TokenBucketRateLimiter({ qps: 1, burst: 1 });
    await l.acquire();
    const ctl = new AbortController();
    const waiting = l.acquire({ signal: ctl.signal });
    const reason = new K8sError('ERR_K8S_ABORTED', 'stop');
    ctl.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(l.delayMs()).toBeLessThanOrEqual(1000);
  });

  test.each([
    ['fail/qps-zero', { qps: 0 }, /qps must be a positive number \(got 0\)/],
    ['fail/qps-nan', { qps: Number.NaN }, /qps must be a positive number/],
    ['fail/burst-zero', { burst: 0 }, /burst must be an integer >= 1 \(got 0\)/],
    ['fail/burst-fraction', { burst: 1.5 }, /burst must be an integer/],
  ])('%s', (_name, cfg, message) => {
    expect(() => new TokenBucketRateLimiter(cfg)).toThrow(message);
  });

  test('ok/defaults: qps 20, burst 40', () => {
    const l = new TokenBucketRateLimiter();
    expect([l.qps, l.burst]).toEqual([20, 40]);
  });
});
