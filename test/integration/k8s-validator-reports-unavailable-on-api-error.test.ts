import { status } from '@grpc/grpc-js';
import { classify, IdentityError } from '../../src/identity/errors.js';
import { K8sTokenValidator } from '../../src/identity/validators/k8s-token-validator.js';
import { writeKubeconfig } from '../support/kubeconfig.js';
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

describe('kubernetes validator answers UNAVAILABLE, never UNAUTHENTICATED, when the API server fails', () => {
  let env: FakeKubeEnv;
  let validator: K8sTokenValidator;

  beforeEach(async () => {
    env = await startFakeKubeEnv();
    env.api.addToken('tok-web', { username: 'system:serviceaccount:default:web', audiences: ['identity.lanyard.io'] });
    validator = new K8sTokenValidator({ kubeconfigPath: env.kubeconfig, logger: env.logger });
  });

  afterEach(async () => {
    validator.close();
    await env.stop();
  });

  async function failure(v: K8sTokenValidator = validator): Promise<IdentityError> {
    const err = await v.validate('tok-web').then(
      () => {
        throw new Error('validate unexpectedly succeeded');
      },
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IdentityError);
    expect(classify(err).grpc).toBe(status.UNAVAILABLE);
    return err as IdentityError;
  }

  test('HTTP 500', async () => {
    env.api.fault('tokenreviews', { status: 500 });

    const err = await failure();

    expect(err.code).toBe('ERR_VALIDATOR_UNAVAILABLE');
    expect(err.message).toContain('HTTP 500');
  });

  test('HTTP 503, then recovery', async () => {
    env.api.fault('tokenreviews', { status: 503, times: 1 });

    await failure();
    await expect(validator.validate('tok-web')).resolves.toEqual({ namespace: 'default', serviceAccount: 'web' });
  });

  test('a 200 whose body is not JSON', async () => {
    env.api.fault('tokenreviews', { status: 201, body: '<html>proxy error</html{' });

    expect((await failure()).code).toBe('ERR_VALIDATOR_UNAVAILABLE');
  });

  test('a TokenReview answer without a status', async () => {
    env.api.fault('tokenreviews', { status: 201, body: { kind: 'TokenReview', apiVersion: 'authentication.k8s.io/v1', spec: {} } });

    expect((await failure()).message).toContain('no status');
  });

  test.each([
    ['401, our token refused', 'wrong-admin-token', undefined],
    ['403, our RBAC refused', undefined, 403],
  ])("%s: the message says the identity service's credentials were refused", async (_name, token, faultStatus) => {
    let v = validator;
    if (token) v = new K8sTokenValidator({ kubeconfigPath: writeKubeconfig(env.dir, env.api, { token, fileName: 'bad' }), logger: env.logger });
    if (faultStatus) env.api.fault('tokenreviews', { status: faultStatus });
    try {
      const err = await failure(v);
      expect(err.code).toBe('ERR_VALIDATOR_UNAVAILABLE');
      expect(err.message).toContain("refused the identity service's credentials");
    } finally {
      if (v !== validator) v.close();
    }
  });
});
