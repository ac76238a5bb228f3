/**
 * A pod annotated `lanyard.io/skip-inbound-ports: 9090,7000-7001` and
 * `lanyard.io/skip-outbound-ports: 5433` is injected, and `lanyard proxy-init` runs with
 * exactly the arguments injection gave its init container: in the pod's network namespace
 * those ports bypass the proxy in both directions while every other port still lands on it.
 */
import { injectConfigFrom } from '../../src/inject/inject-config.js';
import { applyPatch } from '../../src/inject/json-patch.js';
import { planInjection, type PodTemplate } from '../../src/inject/pod-patch.js';
import { loadValues } from '../../src/install/load-values.js';
import { lanyard } from '../support/cli.js';
import { NetnsSet, needsNetns, fetchIn, inNs, link, setUp, startServers, type Servers } from './proxy-init-support.js';

const spaces = new NetnsSet();
const servers: Servers[] = [];
afterAll(() => {
  for (const s of servers) s.stop();
  spaces.deleteAll();
});

/** The `lanyard-init` arguments injection writes for a pod with these annotations. */
function injectedInitArgs(annotations: Record<string, string>): string[] {
  const pod: PodTemplate = { metadata: { annotations }, spec: { containers: [{ name: 'app', image: 'app:1' }] } };
  const d = planInjection(pod, injectConfigFrom(loadValues('0.1.0', {}), null));
  if (d.action !== 'inject') throw new Error(`not injected: ${d.reason}`);
  const init = applyPatch(pod, d.ops).spec!.initContainers!.find((c) => c.name === 'lanyard-init') as { command: string[]; args: string[] };
  expect(init.command[init.command.length - 1]).toBe('proxy-init');
  return init.args;
}

needsNetns('curl', 'setpriv').test('annotated ports bypass the proxy inbound and outbound; the others are redirected', async () => {
  const args = injectedInitArgs({ 'lanyard.io/skip-inbound-ports': '9090,7000-7001', 'lanyard.io/skip-outbound-ports': '5433' });
  const [pod, peer] = setUp(spaces, ['spod', 'speer']);
  const addr = link(pod, peer, '10.249.0');
  inNs(pod, 'ip', 'route', 'add', 'default', 'via', addr.b);
  servers.push(
    await startServers(pod, [
      ['0.0.0.0', 8080, 'app:8080'],
      ['0.0.0.0', 9090, 'app:9090'],
      ['0.0.0.0', 7001, 'app:7001'],
      ['0.0.0.0', 4143, 'proxy-inbound'],
      ['127.0.0.1', 4140, 'proxy-outbound'],
      ['0.0.0.0', 4191, 'proxy-admin'],
    ]),
  );
  servers.push(await startServers(peer, [['0.0.0.0', 5433, 'peer:5433'], ['0.0.0.0', 5432, 'peer:5432']]));

  const run = await lanyard(['proxy-init', '--netns', pod, ...args]);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/IPv4: installed/) });

  // Inbound, from the peer: the annotated ports reach the app, the others the proxy.
  expect(fetchIn(peer, `http://${addr.a}:9090/`)).toBe('app:9090');
  expect(fetchIn(peer, `http://${addr.a}:7001/`)).toBe('app:7001');
  expect(fetchIn(peer, `http://${addr.a}:8080/`)).toBe('proxy-inbound');
  expect(fetchIn(peer, `http://${addr.a}:4191/`)).toBe('proxy-admin');
  // Outbound, from the app's UID: 5433 goes straight to the peer, 5432 to the proxy.
  expect(fetchIn(pod, `http://${addr.b}:5433/`, 1000)).toBe('peer:5433');
  expect(fetchIn(pod, `http://${addr.b}:5432/`, 1000)).toBe('proxy-outbound');
}, 60_000);
