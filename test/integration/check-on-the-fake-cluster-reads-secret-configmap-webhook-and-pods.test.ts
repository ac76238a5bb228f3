/**
 * `lanyard check --kubernetes` against the fake API server, whose pods point at real
 * processes: the identity service, the injector (its certificate issued through Certify)
 * and two proxies. It reads the issuer Secret and bundle ConfigMap and judges them, finds
 * the identity service and the proxies by pod IP and named port, checks the injector's
 * certificate against the webhook's caBundle, and reports a Deployment that is not ready,
 * a pod injected under another bundle and a pod of an injected namespace without a proxy.
 * A Secret whose issuer the ConfigMap does not anchor, and an API server that does not
 * answer, fail.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAnchor, createIssuer } from '../../certs/ca.js';
import type { CheckReport } from '../../src/check/check-result.js';
import { ISSUER_SECRET } from '../../src/inject/mesh-names.js';
import { lanyard, startLanyard, type RunningCli } from '../support/cli.js';
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';
import { addComponentPod, addMeshedPod, CONTROL_NAMESPACE, putControlPlane, putDeployment } from '../support/fake-cluster.js';
import { writeKubeconfig } from '../support/kubeconfig.js';
import { freePort } from '../support/mesh-harness.js';
import { startProcessMesh, type ProcessMesh } from '../support/process-mesh.js';

const SLOW = 120_000;
const SVC = 'lanyard-injector.lanyard.svc';
let mesh: ProcessMesh;
let env: FakeKubeEnv;
let injector: RunningCli;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-check-k8s-'));
  mesh = await startProcessMesh(['--extra-dns-names', `lanyard-injector=${SVC}`]);
  const [web, api] = [await mesh.proxy('web'), await mesh.proxy('api')];
  env = await startFakeKubeEnv();
  const token = await lanyard(['token', 'mint', '--ns', 'lanyard', '--sa', 'lanyard-injector', '--pki-dir', mesh.pkiDir]);
  writeFileSync(join(dir, 'injector.token'), token.stdout.trim());
  const adminPort = await freePort();
  injector = startLanyard(['injector', '--addr', '127.0.0.1:0', '--admin-addr', `127.0.0.1:${adminPort}`, '--identity-addr', mesh.identity.addr, '--trust-anchors', mesh.bundlePath, '--token-file', join(dir, 'injector.token'), '--kubeconfig', env.kubeconfig]);
  const line = await injector.waitFor(/[^\n]*"msg":"injector listening"[^\n]*/, 30_000);
  const injectorPort = Number(/"addr":"127\.0\.0\.1:(\d+)"/.exec(line)![1]);

  putControlPlane(env.api, mesh.pkiDir, { notReady: ['discovery'] });
  env.api.resources.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', annotations: { 'lanyard.io/inject': 'enabled' } } });
  const [idPort, idAdmin] = [mesh.identity.addr, mesh.identity.admin].map((a) => Number(a.split(':').pop()));
  addComponentPod(env.api, 'identity', { serving: idPort, admin: idAdmin });
  addComponentPod(env.api, 'injector', { serving: injectorPort, admin: adminPort });
  const bundle = readFileSync(mesh.bundlePath, 'utf8');
  addMeshedPod(env.api, 'shop', 'web', web.admin, bundle);
  addMeshedPod(env.api, 'shop', 'api', api.admin, (await createAnchor({ commonName: 'root.before' })).certPem);
  env.api.addPod({ metadata: { name: 'legacy', namespace: 'shop' }, spec: { containers: [{ name: 'legacy' }] }, status: { phase: 'Running', podIP: '10.9.9.9' } });
  env.api.addPod({ metadata: { name: 'node-agent', namespace: 'shop' }, spec: { hostNetwork: true, containers: [{ name: 'agent' }] }, status: { phase: 'Running', podIP: '10.9.9.8' } });
}, SLOW);
afterAll(async () => {
  await injector?.stop();
  await env?.stop();
  await mesh?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const check = async (kubeconfig = env.kubeconfig) => {
  const r = await lanyard(['check', '--kubernetes', '--kubeconfig', kubeconfig, '-o', 'json']);
  return { code: r.code, report: JSON.parse(r.stdout) as CheckReport, stderr: r.stderr };
};
const problems = (r: CheckReport) => r.categories.flatMap((c) => c.checks.filter((x) => x.status !== 'ok').map((x) => `${x.id}:${x.status}`));
const find = (r: CheckReport, id: string) => r.categories.flatMap((c) => c.checks).find((c) => c.id === id)!;

test('the cluster: Secret, ConfigMap, identity service, injector and proxies judged; three problems found', async () => {
  const { code, report } = await check();
  expect(report.categories.map((c) => c.name)).toEqual(['lanyard-identity', 'lanyard-identity-service', 'lanyard-proxies', 'lanyard-kubernetes']);
  expect({ code, problems: problems(report) }).toEqual({ code: 2, problems: ['k8s-control-plane-ready:fail', 'k8s-pods-bundle-annotation:warn', 'k8s-pods-without-proxy:warn'] });
  expect(find(report, 'k8s-control-plane-ready').details).toEqual(['Deployment lanyard/lanyard-discovery: 0 of 1 ready, 1 updated']);
  expect(find(report, 'k8s-pods-bundle-annotation').details).toEqual([expect.stringMatching(/^shop\/api: injected under [0-9a-f]{12}…, the bundle is now [0-9a-f]{12}…$/)]);
  expect(find(report, 'k8s-pods-without-proxy').details).toEqual(['shop/legacy runs without a proxy']);
  expect(find(report, 'proxies-reachable').details).toEqual(['2 of 2 answered']);
  expect(find(report, 'k8s-webhook-certificate').details).toEqual([expect.stringMatching(/^127\.0\.0\.1:\d+: expires in /)]);
  expect(find(report, 'identity-reachable').details).toEqual([mesh.identity.addr]);
}, SLOW);

test('all ready and the stale pods gone: warnings none, exit 0', async () => {
  putDeployment(env.api, 'discovery', 1);
  env.api.deletePod('shop', 'api');
  env.api.deletePod('shop', 'legacy');
  const { code, report } = await check();
  expect({ code, problems: problems(report) }).toEqual({ code: 0, problems: [] });
}, SLOW);

test("an issuer in the Secret that the ConfigMap's bundle does not anchor fails, with the order to fix it in", async () => {
  const before = env.api.resources.get('v1', 'secrets', CONTROL_NAMESPACE, ISSUER_SECRET)!;
  try {
    const foreign = await createAnchor({ commonName: 'root.foreign' });
    const other = await createIssuer({ commonName: 'identity.lanyard.cluster.local', caCertPem: foreign.certPem, caKeyPem: foreign.keyPem });
    env.api.resources.put({ ...before, data: { 'tls.crt': Buffer.from(other.certPem).toString('base64'), 'tls.key': Buffer.from(other.keyPem).toString('base64') } });
    const { code, report } = await check();
    expect(code).toBe(2);
    expect(find(report, 'k8s-secret-and-configmap-agree')).toMatchObject({ status: 'fail', hint: expect.stringMatching(/put the new anchor in the ConfigMap before the issuer/) });
    expect(find(report, 'identity-serving-issuer').status).toBe('warn');
  } finally {
    env.api.resources.put(before);
  }
}, SLOW);

test('an API server that does not answer: k8s-api fails, exit 2', async () => {
  const closed = writeKubeconfig(dir, env.api, { server: `https://127.0.0.1:${await freePort()}`, fileName: 'closed' });
  const { code, report } = await check(closed);
  expect({ code, api: find(report, 'k8s-api').status, reason: find(report, 'k8s-api').details[0] }).toEqual({ code: 2, api: 'fail', reason: expect.stringMatching(/cannot reach the Kubernetes API server/) });
}, SLOW);

test('--no-pod-probes: the PKI and the objects are judged, pods are not connected to', async () => {
  const r = await lanyard(['check', '--kubernetes', '--kubeconfig', env.kubeconfig, '--no-pod-probes', '-o', 'json']);
  const report = JSON.parse(r.stdout) as CheckReport;
  expect(report.categories.map((c) => c.name)).toEqual(['lanyard-identity', 'lanyard-proxies', 'lanyard-kubernetes']);
  expect({ proxies: find(report, 'proxies-reachable'), webhook: find(report, 'k8s-webhook-certificate').status }).toEqual({
    proxies: expect.objectContaining({ status: 'skip', details: ['pods were not probed (--no-pod-probes)'] }),
    webhook: 'skip',
  });
}, SLOW);
