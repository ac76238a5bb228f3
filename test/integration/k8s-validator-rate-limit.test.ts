import { K8sTokenValidator } from '../../src/identity/validators/k8s-token-validator.js';
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

describe('kubernetes validator limits its own request rate', () => {
  let env: FakeKubeEnv;

  beforeEach(async () => {
    env = await startFakeKubeEnv();
    env.api.addToken('tok-web', { username: 'system:serviceaccount:default:web', audiences: ['identity.lanyard.io'] });
  });

  afterEach(async () => {
    await env.stop();
  });

  test('qps=2, burst=2: two calls go at once, the third waits ~500 ms', async () => {
    const validator = new K8sTokenValidator({ kubeconfigPath: env.kubeconfig, qps: 2, burst: 2, logger: env.logger });
    try {
      const started = Date.now();
      await Promise.all([validator.validate('tok-web'), validator.validate('tok-web'), validator.validate('tok-web')]);
      const at = env.api.requests.filter((r) => r.route === 'tokenreviews').map((r) => r.at);

      expect(at).toHaveLength(3);
      // Lower bounds from the start (load only makes them larger): the third waited for the refill.
      expect(at[2]! - started).toBeGreaterThanOrEqual(450);
      // Upper bounds from the first arrival, so the client's own set-up (kubeconfig, first
      // connection), which varies with the machine's load, is not counted: the second went with
      // the first, before a token could have been refilled (500 ms at 2 qps), and the third not
      // much later than the refill.
      expect(at[1]! - at[0]!).toBeLessThan(450);
      expect(at[2]! - at[0]!).toBeLessThan(1200);
    } finally {
      validator.close();
    }
  });

  test('a wait that would outlast the timeout fails at once as UNAVAILABLE', async () => {
    const validator = new K8sTokenValidator({ kubeconfigPath: env.kubeconfig, qps: 1, burst: 1, requestTimeoutMs: 300, logger: env.logger });
    try {
      await validator.validate('tok-web');
      const started = Date.now();
      await expect(validator.validate('tok-web')).rejects.toMatchObject({
        code: 'ERR_VALIDATOR_UNAVAILABLE',
        message: expect.stringContaining('client-side rate limit (qps=1, burst=1)'),
      });
      // At once: without waiting out the 300 ms timeout (or the 1 s the limiter would need).
      expect(Date.now() - started).toBeLessThan(300);
      expect(env.api.requestCount('tokenreviews')).toBe(1);
    } finally {
      validator.close();
    }
  });

  test('429 from the API server is retried (Retry-After honoured), then succeeds', async () => {
    const validator = new K8sTokenValidator({ kubeconfigPath: env.kubeconfig, logger: env.logger });
    env.api.fault('tokenreviews', { status: 429, retryAfterSeconds: 0, times: 2 });
    try {
      await expect(validator.validate('tok-web')).resolves.toEqual({ namespace: 'default', serviceAccount: 'web' });
      expect(env.api.requestCount('tokenreviews')).toBe(3);
    } finally {
      validator.close();
    }
  });

  test('429 that persists is UNAVAILABLE after the retries', async () => {
    const validator = new K8sTokenValidator({ kubeconfigPath: env.kubeconfig, logger: env.logger });
    env.api.fault('tokenreviews', { status: 429 });
    try {
      await expect(validator.validate('tok-web')).rejects.toMatchObject({
        code: 'ERR_VALIDATOR_UNAVAILABLE',
        message: expect.stringContaining('throttling'),
      });
      expect(env.api.requestCount('tokenreviews')).toBe(4);
    } finally {
      validator.close();
    }
  });
});
