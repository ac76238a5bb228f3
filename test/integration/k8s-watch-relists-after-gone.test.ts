import { K8sClient } from '../../src/k8s/k8s-client.js';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import type { ListWatchEvent, ListWatcher } from '../../src/k8s/list-watcher.js';
import { createPodWatcher, type PodObject } from '../../src/k8s/pods.js';
import { eventually, startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

const pod = (name: string) => ({ metadata: { namespace: 'default', name }, spec: { serviceAccountName: name } });

describe('pod watcher lists again after 410 Gone and reports what it missed', () => {
  let env: FakeKubeEnv;
  let client: K8sClient;
  let watcher: ListWatcher<PodObject>;
  let events: ListWatchEvent<PodObject>[];
  const seen = () => events.map((e) => `${e.type} ${e.object.metadata?.name}`);

  beforeEach(async () => {
    env = await startFakeKubeEnv();
    client = new K8sClient({ kubeConfig: loadKubeConfig({ path: env.kubeconfig }) });
    env.api.addPod(pod('web'));
    env.api.addPod(pod('db'));
    watcher = createPodWatcher(client, { logger: env.logger, backoffInitialMs: 50 });
    events = [];
    watcher.onEvent((e) => events.push(e));
    watcher.start();
    await watcher.synced();
    await eventually('watch open', () => env.api.openWatches === 1);
    events.length = 0;
  });

  afterEach(async () => {
    await watcher.stop();
    client.close();
    await env.stop();
  });

  test('ERROR 410 event (history compacted while disconnected): relist, diff, watch on', async () => {
    // Hold the re-watch long enough for changes and a compaction to happen meanwhile.
    env.api.fault('pods-watch', { delayMs: 300, times: 1 });
    env.api.closeWatches();
    env.api.deletePod('default', 'db');
    env.api.addPod(pod('api'));
    env.api.modifyPod('default', 'web', (p) => (p.metadata.labels = { v: '2' }));
    env.api.compact();

    await eventually('relisted', () => watcher.stats.lists === 2);
    await eventually('watching again', () => env.api.openWatches === 1);

    expect(watcher.stats.relistsAfterGone).toBe(1);
    expect(seen().sort()).toEqual(['ADDED api', 'DELETED db', 'MODIFIED web']);
    expect(watcher.items().map((p) => p.metadata?.name).sort()).toEqual(['api', 'web']);
    expect(env.logs.some((l) => l.msg === 'list-watch interrupted' && /410/.test(String(l.reason)))).toBe(true);

    env.api.addPod(pod('cache'));
    await eventually('live again', () => seen().includes('ADDED cache'));
    expect(watcher.lastResourceVersion).toBe(String(env.api.pods.resourceVersion));
  });

  test('HTTP 410 on the watch request itself: relist as well', async () => {
    env.api.fault('pods-watch', { status: 410, times: 1 });
    env.api.closeWatches();

    await eventually('relisted', () => watcher.stats.lists === 2);
    await eventually('watching again', () => env.api.openWatches === 1);
    env.api.addPod(pod('api'));
    await eventually('live again', () => seen().includes('ADDED api'));
    expect(seen()).toEqual(['ADDED api']);
  });
});
