import { K8sClient } from '../../src/k8s/k8s-client.js';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import type { ListWatchEvent } from '../../src/k8s/list-watcher.js';
import { createPodWatcher, type PodObject } from '../../src/k8s/pods.js';
import { eventually, startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

const pod = (name: string) => ({ metadata: { namespace: 'default', name }, spec: { serviceAccountName: name } });

describe('pod watcher recovers from a failing API server', () => {
  let env: FakeKubeEnv;
  let client: K8sClient;
  const stops: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    env = await startFakeKubeEnv();
    client = new K8sClient({ kubeConfig: loadKubeConfig({ path: env.kubeconfig }), timeoutMs: 300 });
    env.api.addPod(pod('web'));
  });

  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    client.close();
    await env.stop();
  });

  function start() {
    const watcher = createPodWatcher(client, { logger: env.logger, backoffInitialMs: 50, backoffMaxMs: 400 });
    const events: ListWatchEvent<PodObject>[] = [];
    watcher.onEvent((e) => events.push(e));
    watcher.start();
    stops.push(() => watcher.stop());
    return { watcher, events };
  }

  test('list failing with 500: retried with growing delays until it succeeds', async () => {
    env.api.fault('pods-list', { status: 500, times: 4 });
    const { watcher } = start();

    await watcher.synced();

    const lists = env.api.requests.filter((r) => r.route === 'pods-list').map((r) => r.at);
    expect(lists).toHaveLength(5);
    const gaps = lists.slice(1).map((t, i) => t - lists[i]);
    expect(gaps[3]).toBeGreaterThan(gaps[0]);
    expect(watcher.items()).toHaveLength(1);
  });

  test('watch connection dropped abruptly: relist and carry on', async () => {
    const { watcher, events } = start();
    await watcher.synced();
    await eventually('watch open', () => env.api.openWatches === 1);

    env.api.closeWatches({ abrupt: true });
    await eventually('relisted', () => watcher.stats.lists === 2);
    await eventually('watch open again', () => env.api.openWatches === 1);
    env.api.addPod(pod('api'));

    await eventually('live again', () => events.some((e) => e.type === 'ADDED' && e.object.metadata?.name === 'api'));
  });

  test('a watch request that hangs times out and is retried', async () => {
    env.api.fault('pods-watch', { hang: true, times: 1 });
    const { watcher, events } = start();
    await watcher.synced();

    await eventually('second watch open', () => env.api.openWatches === 1 && env.api.requestCount('pods-watch') === 2, 3000);
    env.api.addPod(pod('api'));
    await eventually('live', () => events.some((e) => e.object.metadata?.name === 'api'));
    expect(env.logs.some((l) => l.msg === 'list-watch interrupted' && /within 300 ms/.test(String(l.reason)))).toBe(true);
  });

  test('a malformed event line: relist, and an object only the bad stream showed is deleted', async () => {
    env.api.fault('pods-watch', {
      status: 200,
      body: '{"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"namespace":"default","name":"ghost","resourceVersion":"999"}}}\nnot json\n',
      times: 1,
    });
    const { watcher, events } = start();
    await watcher.synced();

    await eventually('relisted', () => watcher.stats.lists === 2);

    const ghost = events.filter((e) => e.object.metadata?.name === 'ghost').map((e) => e.type);
    expect(ghost).toEqual(['ADDED', 'DELETED']);
    expect(watcher.items().map((p) => p.metadata?.name)).toEqual(['web']);
  });
});
