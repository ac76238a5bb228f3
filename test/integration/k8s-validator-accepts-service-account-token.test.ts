import { K8sTokenValidator } from '../../src/identity/validators/k8s-token-validator.js';
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

describe('kubernetes validator accepts a service-account token', () => {
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

  test('a token the API server authenticates for our audience yields its service account', async () => {
    env.api.addToken('tok-web', { username: 'system:serviceaccount:default:web', audiences: ['identity.lanyard.io'] });

    await validator.start();
    await expect(validator.validate('tok-web')).resolves.toEqual({ namespace: 'default', serviceAccount: 'web' });

    expect(env.api.requestCount('selfsubjectaccessreviews')).toBe(1);
    expect(env.api.requestCount('tokenreviews')).toBe(1);
  });

  test('the audience is configurable (Linkerd mode)', async () => {
    const linkerd = new K8sTokenValidator({ kubeconfigPath: env.kubeconfig, audience: 'identity.l5d.io', logger: env.logger });
    env.api.addToken('tok-l5d', { username: 'system:serviceaccount:emojivoto:web-svc', audiences: ['identity.l5d.io'] });
    env.api.addToken('tok-lanyard', { username: 'system:serviceaccount:emojivoto:web-svc', audiences: ['identity.lanyard.io'] });
    try {
      await expect(linkerd.validate('tok-l5d')).resolves.toEqual({ namespace: 'emojivoto', serviceAccount: 'web-svc' });
      await expect(linkerd.validate('tok-lanyard')).rejects.toMatchObject({ code: 'ERR_TOKEN_INVALID' });
    } finally {
      linkerd.close();
    }
  });

  test('every validation is a fresh TokenReview (no caching) and the token never reaches the log', async () => {
    env.api.addToken('secret-token-value', { username: 'system:serviceaccount:default:web', audiences: ['identity.lanyard.io'] });

    await validator.validate('secret-token-value');
    await validator.validate('secret-token-value');

    expect(env.api.requestCount('tokenreviews')).toBe(2);
    expect(env.logs.some((l) => l.msg === 'token accepted' && l.namespace === 'default' && l.serviceAccount === 'web')).toBe(true);
    expect(JSON.stringify(env.logs)).not.toContain('secret-token-value');
  });
});
