import { ApiException, KubeConfig } from '@kubernetes/client-node';
import { K8sClient, type RequestOptions } from '../../../src/k8s/k8s-client.js';

function client(cfg: Partial<ConstructorParameters<typeof K8sClient>[0]> = {}): K8sClient {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: false }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return new K8sClient({ kubeConfig, ...cfg });
}

const never = (_o: RequestOptions, signal: AbortSignal) =>
  new Promise<never>((_resolve, reject) => signal.addEventListener('abort', () => reject(new Error('socket aborted'))));

describe('K8sClient.call', () => {
  test('ok/passes the signal middleware and returns the result', async () => {
    const c = client();
    let options: RequestOptions | undefined;
    await expect(c.call('get x', async (o) => ((options = o), 42))).resolves.toBe(42);
    expect(options?.middleware).toHaveLength(1);
    expect(options?.middlewareMergeStrategy).toBe('append');
    c.close();
  });

  test('fail/timeout: ERR_K8S_TIMEOUT after timeoutMs, and the attempt is aborted', async () => {
    const c = client({ timeoutMs: 100 });
    let aborted = false;
    const started = Date.now();
    const err = await c
      .call('get x', (o, signal) => {
        signal.addEventListener('abort', () => (aborted = true));
        return never(o, signal);
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_K8S_TIMEOUT', message: 'get x: no answer from the Kubernetes API server at https://127.0.0.1:1 within 100 ms' });
    expect(Date.now() - started).toBeLessThan(500);
    expect(aborted).toBe(true);
    c.close();
  });

  test('fail/timeout-override: a per-call timeout wins', async () => {
    const c = client({ timeoutMs: 10_000 });
    await expect(c.call('get x', never, { timeoutMs: 50 })).rejects.toMatchObject({ code: 'ERR_K8S_TIMEOUT' });
    c.close();
  });

  test('fail/caller-abort: ERR_K8S_ABORTED', async () => {
    const c = client();
    const ctl = new AbortController();
    const pending = c.call('get x', never, { signal: ctl.signal });
    ctl.abort();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_K8S_ABORTED' });
    c.close();
  });

  test('fail/closed: close() aborts calls in flight', async () => {
    const c = client();
    const pending = c.call('get x', never);
    c.close();
    await expect(pending).rejects.toMatchObject({ code: 'ERR_K8S_ABORTED', message: 'the Kubernetes client was closed' });
  });

  test('ok/429-retry: retried, honouring Retry-After', async () => {
    const c = client();
    let calls = 0;
    const result = await c.call('get x', async () => {
      if (++calls < 3) throw new ApiException(429, 'x', undefined, { 'retry-after': '0' });
      return 'done';
    });
    expect([result, calls]).toEqual(['done', 3]);
    c.close();
  });

  test('fail/429-exhausted: ERR_K8S_THROTTLED after throttleRetries', async () => {
    const c = client({ throttleRetries: 1 });
    let calls = 0;
    const err = await c
      .call('get x', async () => {
        calls++;
        throw new ApiException(429, 'x', undefined, {});
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_K8S_THROTTLED', status: 429 });
    expect(calls).toBe(2);
    c.close();
  });

  test('fail/429-beyond-deadline: a Retry-After past the deadline is not waited for', async () => {
    const c = client({ timeoutMs: 500 });
    let calls = 0;
    const started = Date.now();
    const err = await c
      .call('get x', async () => {
        calls++;
        throw new ApiException(429, 'x', undefined, { 'retry-after': '5' });
      })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ERR_K8S_THROTTLED' });
    expect(calls).toBe(1);
    // At once: neither the 5 s Retry-After nor the 500 ms deadline was waited out.
    expect(Date.now() - started).toBeLessThan(450);
    c.close();
  });

  test('fail/500-not-retried', async () => {
    const c = client();
    let calls = 0;
    await expect(
      c.call('get x', async () => {
        calls++;
        throw new ApiException(500, 'x', undefined, {});
      }),
    ).rejects.toMatchObject({ code: 'ERR_K8S_STATUS', status: 500 });
    expect(calls).toBe(1);
    c.close();
  });

  test('fail/config: timeoutMs must be positive', () => {
    expect(() => client({ timeoutMs: 0 })).toThrow(/timeoutMs must be a positive number/);
  });
});
