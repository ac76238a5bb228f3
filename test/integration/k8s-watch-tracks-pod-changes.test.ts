import { K8sClient } from '../../src/k8s/k8s-client.js';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import type { ListWatchEvent } from '../../src/k8s/list-watcher.js';
import { createPodWatcher, type PodObject } from '../../src/k8s/pods.js';
import { eventually, startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

const pod = (namespace: string, name: string, labels: Record<string, string> = {}) => ({
  metadata: { namespace, name, labels },
  spec: { serviceAccountName: name },
  status: { phase: 'Running', podIP: '10.0.0.1' },
});

describe('pod watcher follows adds, modifications and deletions', () => {
  let env: FakeKubeEnv;
  let client: K8sClient;
  const stops: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    env = await startFakeKubeEnv();
    client = new K8sClient({ kubeConfig: loadKubeConfig({ path: env.kubeconfig }) });
    env.api.addPod(pod('default', 'web', { app: 'web' }));
    env.api.addPod(pod('default', 'db', { app: 'db' }));
    env.api.addPod(pod('other', 'web', { app: 'web' }));
  });

  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    client.close();
    await env.stop();
  });

  function watch(cfg: Parameters<typeof createPodWatcher>[1] = {}) {
    const watcher = createPodWatcher(client, { logger: env.logger, ...cfg });
    const events: ListWatchEvent<PodObject>[] = [];
    watcher.onEvent((e) => events.push(e));
    watcher.start();
    stops.push(() => watcher.stop());
    return { watcher, events, seen: () => events.map((e) => `${e.type} ${e.object.metadata?.namespace}/${e.object.metadata?.name}`) };
  }

  test('all namespaces: the list, then each change, in order', async () => {
    const { watcher, events, seen } = watch();
    await watcher.synced();
    expect(seen().sort()).toEqual(['ADDED default/db', 'ADDED default/web', 'ADDED other/web']);
    await eventually('watch open', () => env.api.openWatches === 1);

    env.api.addPod(pod('default', 'api'));
    env.api.modifyPod('default', 'web', (p) => {
      (p.metadata.labels as Record<string, string>).version = 'v2';
    });
    env.api.deletePod('default', 'db');
    await eventually('three changes', () => events.length === 6);

    expect(seen().slice(3)).toEqual(['ADDED default/api', 'MODIFIED default/web', 'DELETED default/db']);
    expect(events[4].object.metadata?.labels).toEqual({ app: 'web', version: 'v2' });
    expect(watcher.get('default', 'web')?.metadata?.labels?.version).toBe('v2');
    expect(watcher.get('default', 'db')).toBeUndefined();
    expect(watcher.items()).toHaveLength(3);
    expect(watcher.lastResourceVersion).toBe(String(env.api.pods.resourceVersion));
    expect(watcher.stats).toMatchObject({ lists: 1, watches: 1 });
  });

  test('watch events carry kind and apiVersion and plain-JSON fields', async () => {
    const { watcher, events } = watch();
    await watcher.synced();
    await eventually('watch open', () => env.api.openWatches === 1);

    env.api.addPod(pod('default', 'api'));
    await eventually('added', () => events.length === 4);

    expect(events[3].object).toMatchObject({ kind: 'Pod', apiVersion: 'v1', status: { podIP: '10.0.0.1' } });
    expect(typeof (events[3].object.metadata as Record<string, unknown>).creationTimestamp).toBe('string');
  });

  test('one namespace with a label selector sees only its pods', async () => {
    const { watcher, seen } = watch({ namespace: 'default', labelSelector: 'app=web' });
    await watcher.synced();
    await eventually('watch open', () => env.api.openWatches === 1);

    env.api.addPod(pod('other', 'web-2', { app: 'web' }));
    env.api.addPod(pod('default', 'cache', { app: 'cache' }));
    env.api.addPod(pod('default', 'web-2', { app: 'web' }));
    await eventually('web-2 added', () => seen().includes('ADDED default/web-2'));

    expect(seen()).toEqual(['ADDED default/web', 'ADDED default/web-2']);
    const paths = env.api.requests.filter((r) => r.route.startsWith('pods')).map((r) => r.path);
    expect(new Set(paths)).toEqual(new Set(['/api/v1/namespaces/default/pods']));
  });

  test('stop() ends the watch on the server', async () => {
    const { watcher } = watch();
    await watcher.synced();
    await eventually('watch open', () => env.api.openWatches === 1);

    await watcher.stop();

    await eventually('watch closed on the server', () => env.api.openWatches === 0);
  });
});
