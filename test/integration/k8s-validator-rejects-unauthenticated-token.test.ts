import { status } from '@grpc/grpc-js';
import { classify, IdentityError } from '../../src/identity/errors.js';
import { K8sTokenValidator } from '../../src/identity/validators/k8s-token-validator.js';
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

describe('kubernetes validator rejects a token the API server does not authenticate', () => {
  let env: FakeKubeEnv;
  let validator: K8sTokenValidator;

  beforeEach(async () => {
    env = await startFakeKubeEnv();
    validator = new K8sTokenValidator({ kubeconfigPath: env.kubeconfig, logger: env.logger });
  });

  afterEach(async () => {
    validator.close();
    await env.stop();
  });

  test('authenticated=false is ERR_TOKEN_INVALID (UNAUTHENTICATED) and carries the API server reason', async () => {
    env.api.onTokenReview(() => ({ authenticated: false, user: {}, error: '[invalid bearer token, service account token has expired]' }));

    const err = (await validator.validate('expired-token').catch((e: unknown) => e)) as IdentityError;

    expect(err).toBeInstanceOf(IdentityError);
    expect(err.code).toBe('ERR_TOKEN_INVALID');
    expect(err.message).toContain('service account token has expired');
    expect(classify(err).grpc).toBe(status.UNAUTHENTICATED);
  });

  test('an unknown token is refused, and the refusal is logged without the token', async () => {
    await expect(validator.validate('not-a-real-token')).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' });

    const line = env.logs.find((l) => l.msg === 'token rejected');
    expect(line).toMatchObject({ code: 'ERR_TOKEN_INVALID' });
    expect(JSON.stringify(env.logs)).not.toContain('not-a-real-token');
  });

  test('an empty token is refused without asking the API server', async () => {
    await expect(validator.validate('')).rejects.toMatchObject({ code: 'ERR_TOKEN_MALFORMED' });
    expect(env.api.requestCount('tokenreviews')).toBe(0);
  });
});
