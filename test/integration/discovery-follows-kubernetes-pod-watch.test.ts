/**
 * `lanyard discovery --kubernetes` against a fake API server (real JSON and watch protocol,
 * reached through a kubeconfig): a meshed pod's IP resolves to its service account's
 * identity; adding, modifying (service account change, proxy removed) and deleting pods
 * changes the answer a subscribed client sees, without restarting anything; a 410 relist
 * loses nothing.
 */
import { startFakeKubeEnv } from '../support/fake-kube-env.js';
import { startLanyard } from '../support/cli.js';
import { meshedPod } from '../support/pods.js';
import { DiscoveryClient } from '../../proxy/discovery/discovery-client.js';
import { LogSink } from '../support/log-sink.js';
import type { EndpointMessage } from '../../src/proto/discovery-codec.js';

const id = (sa: string, ns = 'default') => `${sa}.${ns}.serviceaccount.identity.lanyard.cluster.local`;

async function until(f: () => Promise<EndpointMessage>, ok: (e: EndpointMessage) => boolean, ms = 8000): Promise<EndpointMessage> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('pod add, modify, delete reach the client through Watch', async () => {
  const env = await startFakeKubeEnv();
  env.api.addPod(meshedPod('default', 'web-1', 'web', '10.1.0.5'));
  env.api.addPod(meshedPod('default', 'legacy-1', 'legacy', '10.1.0.6', { meshed: false }));
  const svc = startLanyard(['discovery', '--kubernetes', '--kubeconfig', env.kubeconfig, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
  let client: DiscoveryClient | null = null;
  try {
    await svc.waitFor(/pod watch synced/);
    const addr = JSON.parse(svc.stdout().split('\n').find((l) => l.includes('discovery service listening'))!).addr as string;
    client = new DiscoveryClient({ address: addr, logger: new LogSink().logger() });
    const c = client;
    expect(await c.resolve('10.1.0.5', 8080)).toMatchObject({ meshed: true, identity: id('web'), source: 'kubernetes', workload: 'default/web-1' });
    expect(await c.resolve('10.1.0.6', 8080)).toMatchObject({ meshed: false });
    expect(await c.resolve('10.1.0.7', 8080)).toMatchObject({ meshed: false, source: 'none' });

    env.api.addPod(meshedPod('prod', 'api-1', 'api', '10.1.0.7'));
    expect(await until(() => c.resolve('10.1.0.7', 8080), (e) => e.meshed)).toMatchObject({ identity: id('api', 'prod') });

    env.api.modifyPod('default', 'web-1', (p) => ((p.spec as { serviceAccountName: string }).serviceAccountName = 'web-v2'));
    expect(await until(() => c.resolve('10.1.0.5', 8080), (e) => e.identity === id('web-v2'))).toMatchObject({ identity: id('web-v2') });

    env.api.compact(); // older resource versions now get 410 Gone: the watcher must relist
    env.api.closeWatches();
    env.api.modifyPod('default', 'web-1', (p) => ((p.spec as { containers: unknown[] }).containers = [{ name: 'app' }]));
    expect(await until(() => c.resolve('10.1.0.5', 8080), (e) => !e.meshed)).toMatchObject({ meshed: false });

    env.api.deletePod('prod', 'api-1');
    expect(await until(() => c.resolve('10.1.0.7', 8080), (e) => !e.meshed)).toMatchObject({ meshed: false, source: 'none' });
  } finally {
    client?.close();
    await svc.stop();
    await env.stop();
  }
}, 40_000);
