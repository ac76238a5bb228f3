/**
 * `lanyard edges --namespace` / `--all-namespaces`: the proxies are the meshed pods the API
 * server lists (the fake API server, through @kubernetes/client-node and a kubeconfig),
 * each read at its pod IP on its proxy container's `lanyard-admin` port. Unmeshed pods are
 * ignored, a meshed pod that is not running is named on stderr, and a pod whose proxy does
 * not answer is a warning, not a failure, while another one answered.
 */
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';
import { freePort, identityOf, Mesh, nthLog, tcpExchange, type ProxyProcess } from '../support/mesh-harness.js';
import { lanyard } from '../support/cli.js';

const API = identityOf('default', 'api');
const WEB = identityOf('default', 'web');
let mesh: Mesh;
let kube: FakeKubeEnv;
let api: ProxyProcess;
let web: ProxyProcess;
let silentPort: number;
let appPort: number;

/** A pod as the API server returns it; `adminPort` on the proxy container's `lanyard-admin` port. */
function pod(ns: string, name: string, o: { adminPort?: number; phase?: string; meshed?: boolean } = {}) {
  const proxy = { name: 'lanyard-proxy', image: 'lanyard:dev', ports: [{ name: 'lanyard-admin', containerPort: o.adminPort ?? 4191, protocol: 'TCP' }] };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: ns, uid: `${ns}-${name}` },
    spec: { serviceAccountName: name.split('-')[0], containers: [{ name: 'app', image: 'app:1' }, ...(o.meshed === false ? [] : [proxy])] },
    status: { phase: o.phase ?? 'Running', podIP: '127.0.0.1', podIPs: [{ ip: '127.0.0.1' }] },
  };
}

beforeAll(async () => {
  mesh = await Mesh.start();
  const app = await mesh.tcpApp((s) => s.pipe(s));
  appPort = app.port;
  api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(app.port) } });
  web = await mesh.proxy({ name: 'web', sa: 'web', env: { LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: API }]) } });
  for (let i = 0; i < 2; i++) await tcpExchange(web.outbound[0], 'hi', { end: true });
  await nthLog(api, { audit: 'v1', event: 'connection' }, 2);
  silentPort = await freePort(); // nothing listens there

  kube = await startFakeKubeEnv();
  kube.api.addPod(pod('default', 'api-7d9c', { adminPort: api.admin }));
  kube.api.addPod(pod('default', 'web-55f1', { adminPort: web.admin }));
  kube.api.addPod(pod('default', 'db-0', { meshed: false }));
  kube.api.addPod(pod('default', 'web-new', { phase: 'Pending' }));
  kube.api.addPod(pod('jobs', 'batch-1', { adminPort: silentPort }));
}, 60_000);
afterAll(async () => {
  await kube?.stop();
  await mesh.stop();
});

test('--namespace: the namespace\'s meshed, running pods are the sources', async () => {
  const r = await lanyard(['edges', '--namespace', 'default', '--kubeconfig', kube.kubeconfig, '-o', 'json']);
  expect(r.code).toBe(0);
  expect(r.stderr).toBe('lanyard: skipping default/web-new: phase Pending\n');
  const report = JSON.parse(r.stdout) as { sources: { name: string; admin: string; identity: string | null }[]; edges: { client: string; server: string; allowed: number }[] };
  expect(report.sources).toEqual([
    { name: 'default/api-7d9c', admin: `127.0.0.1:${api.admin}`, identity: API, since: expect.any(String), error: null },
    { name: 'default/web-55f1', admin: `127.0.0.1:${web.admin}`, identity: WEB, since: expect.any(String), error: null },
  ]);
  expect(report.edges.map((e) => [e.client, e.server, e.allowed])).toEqual([[WEB, API, 2]]);
  expect(kube.api.requests.filter((q) => q.route === 'pods-list').map((q) => q.path)).toEqual(['/api/v1/namespaces/default/pods']);
});

test('--all-namespaces: a pod whose proxy does not answer is a warning while the others answered', async () => {
  const r = await lanyard(['edges', '-A', '--kubeconfig', kube.kubeconfig, '--timeout', '2s']);
  expect(r.code).toBe(0);
  expect(r.stderr.split('\n').filter(Boolean)).toEqual(['lanyard: skipping default/web-new: phase Pending', 'lanyard: warning: jobs/batch-1: ECONNREFUSED']);
  expect(r.stdout.split('\n')[1].split(/\s{2,}/).slice(0, 5)).toEqual(['web.default', 'api.default', String(appPort), '2', '0']);
  expect(kube.api.requests.filter((q) => q.route === 'pods-list').map((q) => q.path).at(-1)).toBe('/api/v1/pods');
});

test('--all-namespaces -o json: every namespace\'s meshed pod is a source, the silent one with its error', async () => {
  const r = await lanyard(['edges', '--all-namespaces', '--kubeconfig', kube.kubeconfig, '--timeout', '2s', '-o', 'json']);
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout) as { sources: { name: string; admin: string; error: string | null }[] };
  expect(report.sources.map((s) => [s.name, s.admin, s.error])).toEqual([
    ['default/api-7d9c', `127.0.0.1:${api.admin}`, null],
    ['default/web-55f1', `127.0.0.1:${web.admin}`, null],
    ['jobs/batch-1', `127.0.0.1:${silentPort}`, 'jobs/batch-1: ECONNREFUSED'],
  ]);
});

test('KUBECONFIG in the environment is used when --kubeconfig is not given', async () => {
  const r = await lanyard(['edges', '-n', 'default', '-o', 'json'], { KUBECONFIG: kube.kubeconfig });
  expect(r.code).toBe(0);
  expect((JSON.parse(r.stdout) as { edges: unknown[] }).edges).toHaveLength(1);
});

test('a namespace without a meshed running pod is a failed operation', async () => {
  const r = await lanyard(['edges', '-n', 'jobs-none', '--kubeconfig', kube.kubeconfig]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('lanyard: no running meshed pod in namespace jobs-none\n');
});
