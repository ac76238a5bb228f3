import { K8sTokenValidator } from '../../src/identity/validators/k8s-token-validator.js';
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

describe('kubernetes validator answers UNAVAILABLE within its timeout when the API server hangs', () => {
  let env: FakeKubeEnv;
  let validator: K8sTokenValidator;

  beforeEach(async () => {
    env = await startFakeKubeEnv();
    env.api.addToken('tok-web', { username: 'system:serviceaccount:default:web', audiences: ['identity.lanyard.io'] });
    validator = new K8sTokenValidator({ kubeconfigPath: env.kubeconfig, requestTimeoutMs: 300, logger: env.logger });
  });

  afterEach(async () => {
    validator.close();
    await env.stop();
  });

  test('a hung TokenReview fails with ERR_VALIDATOR_UNAVAILABLE after ~300 ms', async () => {
    env.api.fault('tokenreviews', { hang: true });

    const started = Date.now();
    const err = await validator.validate('tok-web').catch((e: Error & { code?: string }) => e);
    const elapsed = Date.now() - started;

    expect(err).toMatchObject({ code: 'ERR_VALIDATOR_UNAVAILABLE', message: expect.stringContaining('within 300 ms') });
    expect(elapsed).toBeGreaterThanOrEqual(280);
    expect(elapsed).toBeLessThan(1000);
  });

  test('the hung request is aborted, not left open', async () => {
    env.api.fault('tokenreviews', { hang: true, times: 1 });

    await expect(validator.validate('tok-web')).rejects.toMatchObject({ code: 'ERR_VALIDATOR_UNAVAILABLE' });
    // The next call gets a fresh answer, so nothing is stuck behind the aborted one.
    await expect(validator.validate('tok-web')).resolves.toEqual({ namespace: 'default', serviceAccount: 'web' });
  });

  test('a slow answer inside the timeout is still accepted', async () => {
    env.api.fault('tokenreviews', { delayMs: 100 });

    await expect(validator.validate('tok-web')).resolves.toEqual({ namespace: 'default', serviceAccount: 'web' });
  });

  test('an answer slower than the timeout is not waited for', async () => {
    env.api.fault('tokenreviews', { delayMs: 2000 });

    const started = Date.now();
    await expect(validator.validate('tok-web')).rejects.toMatchObject({ code: 'ERR_VALIDATOR_UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('close() aborts a validation in flight with UNAVAILABLE', async () => {
    const slow = new K8sTokenValidator({ kubeconfigPath: env.kubeconfig, requestTimeoutMs: 10_000, logger: env.logger });
    env.api.fault('tokenreviews', { hang: true });

    const pending = slow.validate('tok-web');
    setTimeout(() => slow.close(), 50);

    await expect(pending).rejects.toMatchObject({ code: 'ERR_VALIDATOR_UNAVAILABLE', message: expect.stringContaining('closed') });
  });
});
