import { K8sTokenValidator } from '../../src/identity/validators/k8s-token-validator.js';
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

describe('kubernetes validator rejects tokens of users that are not service accounts', () => {
  let env: FakeKubeEnv;
  let validator: K8sTokenValidator;

  beforeAll(async () => {
    env = await startFakeKubeEnv();
    validator = new K8sTokenValidator({ kubeconfigPath: env.kubeconfig, logger: env.logger });
  });

  afterAll(async () => {
    validator.close();
    await env.stop();
  });

  test.each([
    ['fail/node', 'system:node:worker-1'],
    ['fail/plain-user', 'alice@example.com'],
    ['fail/kube-admin', 'kubernetes-admin'],
    ['fail/upper-case-namespace', 'system:serviceaccount:Default:web'],
    ['fail/underscore-in-name', 'system:serviceaccount:default:web_1'],
    ['fail/extra-part', 'system:serviceaccount:default:web:extra'],
    ['fail/missing-name', 'system:serviceaccount:default'],
    ['fail/label-too-long', `system:serviceaccount:default:${'a'.repeat(64)}`],
  ])('%s', async (_name, username) => {
    const token = `tok-${_name}`;
    env.api.addToken(token, { username, audiences: ['identity.lanyard.io'] });

    await expect(validator.validate(token)).rejects.toMatchObject({ code: 'ERR_TOKEN_NOT_SERVICE_ACCOUNT' });
  });

  test('ok/dashes-and-digits', async () => {
    env.api.addToken('tok-ok', { username: 'system:serviceaccount:team-1:api-v2', audiences: ['identity.lanyard.io'] });

    await expect(validator.validate('tok-ok')).resolves.toEqual({ namespace: 'team-1', serviceAccount: 'api-v2' });
  });
});
