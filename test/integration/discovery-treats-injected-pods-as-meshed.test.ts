/**
 * Pods that went through injection are meshed for discovery, whichever way the proxy runs:
 * a regular `lanyard-proxy` container, or a native sidecar (an init container with
 * restartPolicy Always, which the old container-only rule missed). A pod that was not
 * injected is not meshed.
 */
import { DiscoveryClient } from '../../proxy/discovery/discovery-client.js';
import { injectConfigFrom } from '../../src/inject/inject-config.js';
import { applyPatch } from '../../src/inject/json-patch.js';
import { planInjection } from '../../src/inject/pod-patch.js';
import { loadValues } from '../../src/install/load-values.js';
import { startLanyard } from '../support/cli.js';
import { startFakeKubeEnv } from '../support/fake-kube-env.js';
import { LogSink } from '../support/log-sink.js';
import { meshedPod } from '../support/pods.js';

const id = (sa: string) => `${sa}.shop.serviceaccount.identity.lanyard.cluster.local`;

function injected(name: string, sa: string, ip: string, native: boolean) {
  const pod = meshedPod('shop', name, sa, ip, { meshed: false });
  const plan = planInjection(pod, injectConfigFrom(loadValues('0.1.0', { sets: [`proxy.nativeSidecar=${native}`] }), null));
  if (plan.action !== 'inject') throw new Error(`expected injection, got ${plan.action}`);
  return applyPatch(pod, plan.ops);
}

test('injected pods resolve to their identity, classic and native sidecar alike', async () => {
  const env = await startFakeKubeEnv();
  env.api.addPod(injected('web-1', 'web', '10.2.0.5', false));
  env.api.addPod(injected('api-1', 'api', '10.2.0.6', true));
  env.api.addPod(meshedPod('shop', 'plain-1', 'plain', '10.2.0.7', { meshed: false }));
  const svc = startLanyard(['discovery', '--kubernetes', '--kubeconfig', env.kubeconfig, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
  let client: DiscoveryClient | null = null;
  try {
    const synced = await svc.waitFor(/[^\n]*pod watch synced[^\n]*/);
    expect(JSON.parse(synced).meshed_ips).toBe(2);
    const addr = JSON.parse(svc.stdout().split('\n').find((l) => l.includes('discovery service listening'))!).addr as string;
    client = new DiscoveryClient({ address: addr, logger: new LogSink().logger() });
    expect(await client.resolve('10.2.0.5', 8080)).toMatchObject({ meshed: true, identity: id('web') });
    expect(await client.resolve('10.2.0.6', 8080)).toMatchObject({ meshed: true, identity: id('api') });
    expect(await client.resolve('10.2.0.7', 8080)).toMatchObject({ meshed: false });
  } finally {
    client?.close();
    await svc.stop();
    await env.stop();
  }
}, 40_000);
