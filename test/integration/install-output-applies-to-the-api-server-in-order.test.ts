/**
 * `lanyard install | kubectl apply -f -`, against the fake API server: the real CLI's output
 * is created object by object through @kubernetes/client-node's KubernetesObjectApi, in the
 * order printed (a namespaced object before its namespace would get 404). Each object read
 * back equals what was printed, so client-node's typed models, which drop fields they do not
 * know, kept every field: nothing we emit is misspelled. Injected workloads are applied the
 * same way.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import { lanyard, ROOT } from '../support/cli.js';
import { FakeKubeApi } from '../support/fake-kube-api.js';
import { writeKubeconfig } from '../support/kubeconfig.js';

let api: FakeKubeApi;
let dir: string;
let client: KubernetesObjectApi;

beforeAll(async () => {
  api = await FakeKubeApi.start();
  dir = mkdtempSync(join(tmpdir(), 'lanyard-apply-'));
  const kc = new KubeConfig();
  kc.loadFromFile(writeKubeconfig(dir, api));
  client = KubernetesObjectApi.makeApiClient(kc);
});
afterAll(async () => {
  await api?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const docs = (text: string): KubernetesObject[] => {
  const d = parseAllDocuments(text);
  return (Array.isArray(d) ? d : [d]).map((x) => x.toJS()).filter(Boolean);
};
const SERVER_FIELDS = ['uid', 'resourceVersion', 'creationTimestamp'];
const strip = (o: any) => {
  const c = structuredClone(o);
  for (const f of SERVER_FIELDS) delete c.metadata[f];
  return c;
};
/** What the API server stores for what we sent: Secrets' stringData becomes base64 data. */
const stored = (o: any) => {
  if (o.kind !== 'Secret' || !o.stringData) return o;
  const { stringData, ...rest } = o;
  return { ...rest, data: Object.fromEntries(Object.entries(stringData).map(([k, v]) => [k, Buffer.from(v as string).toString('base64')])) };
};

async function applyAll(objects: KubernetesObject[]): Promise<void> {
  for (const o of objects) {
    await client.create(structuredClone(o));
    const back = await client.read({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata!.name!, namespace: o.metadata!.namespace } });
    expect(strip(JSON.parse(JSON.stringify(back)))).toEqual(stored(o));
  }
}

test('ok/the install output is created in order and every field survives the typed client', async () => {
  const out = await lanyard(['install', '--ha', '--pki-dir', join(dir, 'pki')]);
  expect(out.code).toBe(0);
  const objects = docs(out.stdout);
  expect(objects.length).toBeGreaterThan(20);
  await applyAll(objects);
  const kinds = api.resources.all().map((o) => o.kind);
  expect(kinds.filter((k) => k === 'Deployment')).toHaveLength(3);
  expect(kinds).toEqual(expect.arrayContaining(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'Secret', 'ConfigMap', 'Service', 'PodDisruptionBudget', 'MutatingWebhookConfiguration']));
  // A second apply of a create-only client conflicts: the objects are really there.
  await expect(client.create(structuredClone(objects[0]))).rejects.toMatchObject({ code: 409 });
}, 60_000);

test('ok/injected workloads of every kind are accepted the same way', async () => {
  for (const ns of ['shop', 'ops']) await client.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
  const out = await lanyard(['inject', join(ROOT, 'test', 'fixtures', 'inject', 'workloads.yaml'), '--native-sidecar']);
  expect(out.code).toBe(0);
  const objects = docs(out.stdout).flatMap((o: any) => (o.kind === 'List' ? o.items : [o]));
  await applyAll(objects);
  expect(readFileSync(join(ROOT, 'test', 'fixtures', 'inject', 'workloads.yaml'), 'utf8')).toContain('kind: CronJob');
}, 60_000);

test('fail/an object applied before its namespace exists is refused, as a real API server does', async () => {
  await expect(client.create({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'nowhere' } } as KubernetesObject)).rejects.toMatchObject({ code: 404 });
});
