import { K8sTokenValidator } from '../../src/identity/validators/k8s-token-validator.js';
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

describe('kubernetes validator rejects a token for another audience', () => {
  let env: FakeKubeEnv;
  let validator: K8sTokenValidator;
  const sa = 'system:serviceaccount:default:web';

  beforeEach(async () => {
    env = await startFakeKubeEnv();
    validator = new K8sTokenValidator({ kubeconfigPath: env.kubeconfig, logger: env.logger });
  });

  afterEach(async () => {
    validator.close();
    await env.stop();
  });

  test('the TokenReview asks for exactly our audience', async () => {
    const seen: (string[] | undefined)[] = [];
    env.api.onTokenReview((spec) => {
      seen.push(spec.audiences);
      return { authenticated: true, user: { username: sa }, audiences: ['identity.lanyard.io'] };
    });

    await validator.validate('tok');

    expect(seen).toEqual([['identity.lanyard.io']]);
  });

  test('a token minted for the API server only is refused by the API server itself', async () => {
    env.api.addToken('default-token', { username: sa });

    await expect(validator.validate('default-token')).rejects.toMatchObject({
      code: 'ERR_TOKEN_INVALID',
      message: expect.stringContaining('invalid for the target audiences'),
    });
  });

  test('status.audiences without our audience is ERR_TOKEN_AUDIENCE even if authenticated', async () => {
    env.api.onTokenReview(() => ({ authenticated: true, user: { username: sa }, audiences: ['vault'] }));

    await expect(validator.validate('tok')).rejects.toMatchObject({
      code: 'ERR_TOKEN_AUDIENCE',
      message: expect.stringContaining('"identity.lanyard.io"'),
    });
  });

  test('an audience-unaware answer (no status.audiences) is ERR_TOKEN_AUDIENCE', async () => {
    env.api.onTokenReview(() => ({ authenticated: true, user: { username: sa } }));

    await expect(validator.validate('tok')).rejects.toMatchObject({ code: 'ERR_TOKEN_AUDIENCE' });
  });
});
