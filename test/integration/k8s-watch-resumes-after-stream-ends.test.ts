import { K8sClient } from '../../src/k8s/k8s-client.js';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';
import type { ListWatchEvent } from '../../src/k8s/list-watcher.js';
import { createPodWatcher, type PodObject, type PodWatchConfig } from '../../src/k8s/pods.js';
import { eventually, startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';

const pod = (namespace: string, name: string) => ({ metadata: { namespace, name }, spec: { serviceAccountName: name } });

describe('pod watcher resumes from its resourceVersion when a watch ends normally', () => {
  let env: FakeKubeEnv;
  let client: K8sClient;
  const stops: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    env = await startFakeKubeEnv();
    client = new K8sClient({ kubeConfig: loadKubeConfig({ path: env.kubeconfig }) });
    env.api.addPod(pod('default', 'web'));
  });

  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
    client.close();
    await env.stop();
  });

  async function watching(cfg: PodWatchConfig = {}) {
    const watcher = createPodWatcher(client, { logger: env.logger, ...cfg });
    const events: ListWatchEvent<PodObject>[] = [];
    watcher.onEvent((e) => events.push(e));
    watcher.start();
    stops.push(() => watcher.stop());
    await watcher.synced();
    await eventually('watch open', () => env.api.openWatches === 1);
    return { watcher, events };
  }

  test('server closes the stream: re-watch from the last resourceVersion, no relist, nothing missed', async () => {
    const { watcher, events } = await watching();
    env.api.fault('pods-watch', { delayMs: 200, times: 1 });
    env.api.closeWatches();
    env.api.addPod(pod('default', 'api'));

    await eventually('missed event replayed', () => events.some((e) => e.object.metadata?.name === 'api'));
    expect(watcher.stats).toMatchObject({ lists: 1, watches: 2 });
    const rewatch = env.api.requests.filter((r) => r.route === 'pods-watch');
    expect(rewatch).toHaveLength(2);
  });

  test('the watch asks for timeoutSeconds and is resumed when the server ends it', async () => {
    const { watcher } = await watching({ watchTimeoutSeconds: 1 });

    await eventually('second watch', () => watcher.stats.watches >= 2, 4000);
    expect(watcher.stats.lists).toBe(1);
  });

  test('bookmarks advance the resourceVersion past changes the watch does not see', async () => {
    const { watcher, events } = await watching({ namespace: 'default' });
    env.api.addPod(pod('other', 'a'));
    env.api.addPod(pod('other', 'b'));
    const before = watcher.lastResourceVersion;

    env.api.sendBookmarks();

    await eventually('bookmark applied', () => watcher.lastResourceVersion === String(env.api.pods.resourceVersion));
    expect(Number(watcher.lastResourceVersion)).toBeGreaterThan(Number(before));
    expect(events).toHaveLength(1);
  });
});
