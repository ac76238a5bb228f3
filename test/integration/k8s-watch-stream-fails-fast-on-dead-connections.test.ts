import { K8sError } from '../../src/k8s/errors.js';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import { openWatchStream, type WatchEvent } from '../../src/k8s/watch-stream.js';
import { writeKubeconfig } from '../support/kubeconfig.js';
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

describe('a single watch stream never hangs on a dead or silent API server', () => {
  let env: FakeKubeEnv;

  beforeEach(async () => {
    env = await startFakeKubeEnv();
    env.api.addPod({ metadata: { namespace: 'default', name: 'web' } });
  });

  afterEach(async () => {
    await env.stop();
  });

  const kc = () => loadKubeConfig({ path: env.kubeconfig });

  test('events stream until close(), which ends it with ERR_K8S_ABORTED', async () => {
    const events: WatchEvent[] = [];
    const stream = await openWatchStream(kc(), { path: '/api/v1/pods', onEvent: (e) => events.push(e) });
    env.api.addPod({ metadata: { namespace: 'default', name: 'api' } });
    while (events.length < 2) await new Promise((r) => setTimeout(r, 10));

    stream.close();

    await expect(stream.done).resolves.toMatchObject({ code: 'ERR_K8S_ABORTED' });
    expect(events.map((e) => `${e.type} ${(e.object.metadata as { name: string }).name}`)).toEqual(['ADDED web', 'ADDED api']);
  });

  test('a clean end by the server resolves done with null', async () => {
    const stream = await openWatchStream(kc(), { path: '/api/v1/pods', query: { resourceVersion: String(env.api.pods.resourceVersion) }, onEvent: () => undefined });
    env.api.closeWatches();
    await expect(stream.done).resolves.toBeNull();
  });

  test('no data for idleTimeoutMs: ERR_K8S_TIMEOUT', async () => {
    const started = Date.now();
    const stream = await openWatchStream(kc(), {
      path: '/api/v1/pods',
      query: { resourceVersion: String(env.api.pods.resourceVersion) },
      idleTimeoutMs: 200,
      onEvent: () => undefined,
    });
    await expect(stream.done).resolves.toMatchObject({ code: 'ERR_K8S_TIMEOUT', message: expect.stringContaining('no data for 200 ms') });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('no response headers within connectTimeoutMs: rejects with ERR_K8S_TIMEOUT', async () => {
    env.api.fault('pods-watch', { hang: true });
    const started = Date.now();
    await expect(openWatchStream(kc(), { path: '/api/v1/pods', connectTimeoutMs: 200, onEvent: () => undefined })).rejects.toMatchObject({
      code: 'ERR_K8S_TIMEOUT',
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  test('refused credentials: rejects with ERR_K8S_UNAUTHORIZED', async () => {
    const bad = loadKubeConfig({ path: writeKubeconfig(env.dir, env.api, { token: 'nope', fileName: 'bad' }) });
    const err = await openWatchStream(bad, { path: '/api/v1/pods', onEvent: () => undefined }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(K8sError);
    expect(err).toMatchObject({ code: 'ERR_K8S_UNAUTHORIZED', status: 401 });
  });
});
