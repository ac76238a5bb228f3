import { createServer } from 'node:net';
import { K8sTokenValidator } from '../../src/identity/validators/k8s-token-validator.js';
import { writeKubeconfig } from '../support/kubeconfig.js';
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('kubernetes validator when the API server cannot be reached', () => {
  let env: FakeKubeEnv;
  let validator: K8sTokenValidator;

  beforeEach(async () => {
    env = await startFakeKubeEnv();
    const server = `https://127.0.0.1:${await closedPort()}`;
    validator = new K8sTokenValidator({ kubeconfigPath: writeKubeconfig(env.dir, env.api, { server, fileName: 'refused' }), logger: env.logger });
  });

  afterEach(async () => {
    validator.close();
    await env.stop();
  });

  test('connection refused is ERR_VALIDATOR_UNAVAILABLE naming the server', async () => {
    const err = await validator.validate('tok').catch((e: Error & { code?: string }) => e);

    expect(err).toMatchObject({ code: 'ERR_VALIDATOR_UNAVAILABLE' });
    expect((err as Error).message).toMatch(/cannot reach the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+/);
    expect((err as Error).message).toContain('ECONNREFUSED');
  });

  test('start() rejects with a message an operator can act on', async () => {
    await expect(validator.start()).rejects.toMatchObject({
      code: 'ERR_VALIDATOR_UNAVAILABLE',
      message: expect.stringMatching(/cannot check RBAC with the Kubernetes API server at https:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/),
    });
  });

  test('a server whose certificate the kubeconfig CA does not vouch for is unreachable, not trusted', async () => {
    const other = await startFakeKubeEnv();
    try {
      const mismatched = writeKubeconfig(env.dir, { ...other.api, caPem: env.api.caPem }, { fileName: 'wrong-ca' });
      const v = new K8sTokenValidator({ kubeconfigPath: mismatched, logger: env.logger });
      try {
        await expect(v.validate('tok')).rejects.toMatchObject({ code: 'ERR_VALIDATOR_UNAVAILABLE' });
        expect(other.api.requestCount('tokenreviews')).toBe(0);
      } finally {
        v.close();
      }
    } finally {
      await other.stop();
    }
  });
});
