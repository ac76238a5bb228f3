import { K8sTokenValidator } from '../../src/identity/validators/k8s-token-validator.js';
import type { ResourceAttributes } from '../support/fake-kube-api.js';
import { writeKubeconfig } from '../support/kubeconfig.js';
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

describe('kubernetes validator checks its RBAC at start-up', () => {
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

  test('asks exactly whether it may create tokenreviews.authentication.k8s.io', async () => {
    const asked: ResourceAttributes[] = [];
    env.api.setAccess((attrs) => {
      asked.push(attrs);
      return true;
    });

    await validator.start();

    expect(asked).toEqual([{ verb: 'create', group: 'authentication.k8s.io', resource: 'tokenreviews' }]);
    expect(env.logs.some((l) => l.msg === 'kubernetes token validator ready: may create tokenreviews')).toBe(true);
  });

  test('denied: start() rejects naming the missing ClusterRole rule', async () => {
    env.api.setAccess({ allowed: false, reason: 'no RBAC policy matched' });

    const err = await validator.start().catch((e: Error & { code?: string }) => e);

    expect(err).toMatchObject({ code: 'ERR_VALIDATOR_UNAVAILABLE' });
    expect((err as Error).message).toBe(
      "the identity service's service account may not create tokenreviews.authentication.k8s.io: " +
        'add a ClusterRole rule {apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"]} bound to it' +
        ' (API server: no RBAC policy matched)',
    );
  });

  test('allowed to do other things but not this one: still refused', async () => {
    env.api.setAccess((attrs) => attrs.resource !== 'tokenreviews');

    await expect(validator.start()).rejects.toThrow(/may not create tokenreviews\.authentication\.k8s\.io/);
  });

  test('our own credentials refused at start: says so', async () => {
    const bad = new K8sTokenValidator({ kubeconfigPath: writeKubeconfig(env.dir, env.api, { token: 'revoked', fileName: 'revoked' }), logger: env.logger });
    try {
      await expect(bad.start()).rejects.toThrow(/refused the identity service's credentials \(HTTP 401\)/);
    } finally {
      bad.close();
    }
  });

  test('API server failing at start: start() rejects', async () => {
    env.api.fault('selfsubjectaccessreviews', { status: 500 });

    await expect(validator.start()).rejects.toThrow(/cannot check RBAC .*HTTP 500/);
  });

  test('a missing kubeconfig fails at construction with its path', () => {
    expect(() => new K8sTokenValidator({ kubeconfigPath: `${env.dir}/nope`, logger: env.logger })).toThrow(/cannot load kubeconfig .*nope/);
  });
});
