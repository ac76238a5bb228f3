/**
 * A full trust-anchor rotation with `--kubernetes`: the trust-bundle ConfigMap, the webhook's
 * caBundle and the issuer Secret are changed through the fake API server with
 * @kubernetes/client-node, while a kubelet stand-in mounts them into the files a real
 * identity process and two real proxies read. The proxies are found as meshed pods (pod IP
 * and lanyard-admin port), the identity service as its pod. A concurrent edit between the
 * rotation's read and its replace makes the API server answer 409; the change is worked
 * out again on the fresh object, so the other edit survives.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { componentName, ISSUER_SECRET, TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY } from '../../src/inject/mesh-names.js';
import { lanyard } from '../support/cli.js';
import { startFakeKubeEnv, type FakeKubeEnv } from '../support/fake-kube-env.js';
import { addComponentPod, addMeshedPod, CONTROL_NAMESPACE, mirrorVolumes, putControlPlane } from '../support/fake-cluster.js';
import { adminJson } from '../support/mesh-harness.js';
import { startProcessMesh, type ProcessMesh } from '../support/process-mesh.js';

const SLOW = 180_000;
let mesh: ProcessMesh;
let env: FakeKubeEnv;
let dir: string;
let stopMirror: () => void;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-rotate-k8s-'));
  mesh = await startProcessMesh(['--lifetime', '10s', '--poll-interval', '200ms']);
  const proxies = [await mesh.proxy('web', { env: { LANYARD_PROXY_MIN_REFRESH: '1s' } }), await mesh.proxy('api', { env: { LANYARD_PROXY_MIN_REFRESH: '1s' } })];
  env = await startFakeKubeEnv();
  putControlPlane(env.api, mesh.pkiDir);
  const [idPort, idAdmin] = [mesh.identity.addr, mesh.identity.admin].map((a) => Number(a.split(':').pop()));
  addComponentPod(env.api, 'identity', { serving: idPort, admin: idAdmin });
  env.api.resources.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  for (const p of proxies) addMeshedPod(env.api, 'shop', p.name, p.admin, readFileSync(mesh.bundlePath, 'utf8'));
  stopMirror = mirrorVolumes(env.api, { bundlePath: mesh.bundlePath, issuerDir: mesh.pkiDir });
}, SLOW);
afterAll(async () => {
  stopMirror?.();
  await env?.stop();
  await mesh?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const pems = (text: string) => text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
const fps = (text: string) => pems(text).map((p) => new X509Certificate(p).fingerprint256);
const stored = (resource: string, name: string, group = 'v1') => env.api.resources.get(group, resource, resource === 'mutatingwebhookconfigurations' ? undefined : CONTROL_NAMESPACE, name)!;

test('add, wait, move, wait, remove through the API server, conflicts redone on the fresh object', async () => {
  expect((await lanyard(['certs', 'create-anchor', '--out-dir', join(dir, 'new')])).code).toBe(0);
  const oldAnchor = fps(readFileSync(mesh.bundlePath, 'utf8'))[0];
  const newAnchor = new X509Certificate(readFileSync(join(dir, 'new', 'ca.crt'))).fingerprint256;

  // Someone labels the ConfigMap and annotates the Secret just before the rotation's first replace of each.
  env.api.resources.onNextReplace('ConfigMap', (cm) => env.api.resources.put({ ...cm, metadata: { ...cm.metadata, labels: { touched: 'by-someone-else' } } }));
  env.api.resources.onNextReplace('Secret', (s) => env.api.resources.put({ ...s, metadata: { ...s.metadata, annotations: { 'example.com/owner': 'platform' } } }));

  const r = await lanyard([
    'certs', 'rotate', 'anchor', '--kubernetes', '--kubeconfig', env.kubeconfig,
    '--new-anchor', join(dir, 'new', 'ca.crt'), '--ca-key', join(dir, 'new', 'ca.key'), '--out-dir', join(dir, 'next'),
    '--wait', '90s', '--poll-interval', '200ms', '-o', 'json',
  ]);
  const report = JSON.parse(r.stdout) as { steps: { step: string; status: string; summary: string }[]; complete: boolean; target: string };
  expect({ code: r.code, steps: report.steps.map((s) => `${s.step}:${s.status}`), complete: report.complete }).toEqual({
    code: 0,
    steps: ['add-anchor:done', 'wait-anchor:done', 'move-issuer:done', 'wait-issuer:done', 'remove-anchor:done'],
    complete: true,
  });
  expect(report.target).toBe(`Secret lanyard/${ISSUER_SECRET} and ConfigMap lanyard/${TRUST_BUNDLE_CONFIGMAP}`);
  expect(report.steps.find((s) => s.step === 'add-anchor')!.summary).toMatch(/after 1 conflicting write, redone on the fresh object/);
  expect(report.steps.find((s) => s.step === 'move-issuer')!.summary).toMatch(/after 1 conflicting write/);
  expect(env.api.resources.replaces.filter((x) => x.result === 'conflict').map((x) => x.kind).sort()).toEqual(['ConfigMap', 'Secret']);

  // The cluster's objects: the bundle and the caBundle hold the new anchor only, the Secret an issuer it signed.
  const cm = stored('configmaps', TRUST_BUNDLE_CONFIGMAP);
  const bundle = (cm.data as Record<string, string>)[TRUST_BUNDLE_KEY];
  expect({ bundle: fps(bundle), label: (cm.metadata.labels as Record<string, string>).touched }).toEqual({ bundle: [newAnchor], label: 'by-someone-else' });
  const hook = stored('mutatingwebhookconfigurations', componentName('injector'), 'admissionregistration.k8s.io/v1') as unknown as { webhooks: { clientConfig: { caBundle: string } }[] };
  expect(fps(Buffer.from(hook.webhooks[0].clientConfig.caBundle, 'base64').toString())).toEqual([newAnchor]);
  const secret = stored('secrets', ISSUER_SECRET);
  const issuer = new X509Certificate(Buffer.from((secret.data as Record<string, string>)['tls.crt'], 'base64'));
  expect({ signedByNew: issuer.checkIssued(new X509Certificate(readFileSync(join(dir, 'new', 'ca.crt')))), owner: (secret.metadata.annotations as Record<string, string>)['example.com/owner'] }).toEqual({ signedByNew: true, owner: 'platform' });
  expect(fps(bundle)).not.toContain(oldAnchor);

  // Every proxy holds a leaf from that issuer.
  for (const p of mesh.proxies) expect(((await adminJson(p.admin, '/identity')).chain as { fingerprint_sha256: string }[])[1].fingerprint_sha256).toBe(issuer.fingerprint256);

  // Run again: nothing to do.
  const again = await lanyard(['certs', 'rotate', 'anchor', '--kubernetes', '--kubeconfig', env.kubeconfig, '--new-anchor', join(dir, 'new', 'ca.crt'), '--out-dir', join(dir, 'next'), '-o', 'json']);
  expect({ code: again.code, steps: JSON.parse(again.stdout).steps, complete: JSON.parse(again.stdout).complete }).toEqual({ code: 0, steps: [], complete: true });
}, SLOW);
