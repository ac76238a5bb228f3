/**
 * A control plane as the fake API server describes it, backed by real processes on
 * loopback: the issuer Secret and trust-bundle ConfigMap (from the identity process's
 * files), the Deployments, the injector webhook, and pods whose IPs and named ports point at
 * the real identity service, injector and proxies (all on 127.0.0.1, each on its own port).
 * What `lanyard check --kubernetes` and `lanyard certs rotate --kubernetes` read.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { COMPONENT_LABEL, componentName, ISSUER_SECRET, PROXY_VERSION_ANNOTATION, BUNDLE_FINGERPRINT_ANNOTATION, TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY, type Component } from '../../src/inject/mesh-names.js';
import { bundleFingerprint } from '../../src/pki/bundle-fingerprint.js';
import type { FakeKubeApi } from './fake-kube-api.js';

const NS = 'lanyard';
const b64 = (s: string) => Buffer.from(s).toString('base64');

export function putControlPlane(api: FakeKubeApi, pkiDir: string, o: { notReady?: Component[] } = {}): void {
  const bundle = readFileSync(join(pkiDir, 'ca.crt'), 'utf8');
  api.resources.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  api.resources.put({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name: ISSUER_SECRET, namespace: NS },
    data: { 'tls.crt': b64(readFileSync(join(pkiDir, 'issuer.crt'), 'utf8')), 'tls.key': b64(readFileSync(join(pkiDir, 'issuer.key'), 'utf8')) },
  });
  api.resources.put({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: TRUST_BUNDLE_CONFIGMAP, namespace: NS }, data: { [TRUST_BUNDLE_KEY]: bundle } });
  for (const c of ['identity', 'discovery', 'injector'] as Component[]) putDeployment(api, c, o.notReady?.includes(c) ? 0 : 1);
  api.resources.put({
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: { name: componentName('injector') },
    webhooks: [{ name: 'inject.lanyard.io', clientConfig: { service: { name: componentName('injector'), namespace: NS, path: '/inject', port: 443 }, caBundle: b64(bundle) }, admissionReviewVersions: ['v1'], sideEffects: 'None' }],
  });
}

export function putDeployment(api: FakeKubeApi, c: Component, ready: number): void {
  const name = componentName(c);
  api.resources.put({
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: NS },
    spec: { replicas: 1, selector: { matchLabels: { [COMPONENT_LABEL]: c } }, template: { metadata: { labels: { [COMPONENT_LABEL]: c } }, spec: { containers: [{ name: c, image: 'lanyard:test' }] } } },
    status: { replicas: 1, readyReplicas: ready, updatedReplicas: 1, availableReplicas: ready },
  });
}

/** A running control-plane pod of `c` at 127.0.0.1 with its serving and admin ports. */
export function addComponentPod(api: FakeKubeApi, c: Component, ports: { serving: number; admin: number }): void {
  const serving = c === 'injector' ? 'https' : 'grpc';
  api.addPod({
    metadata: { name: `${componentName(c)}-0`, namespace: NS, labels: { [COMPONENT_LABEL]: c } },
    spec: { serviceAccountName: componentName(c), containers: [{ name: c, ports: [{ name: serving, containerPort: ports.serving }, { name: 'admin', containerPort: ports.admin }] }] },
    status: { phase: 'Running', podIP: '127.0.0.1' },
  });
}

/** A meshed pod (as `lanyard inject` leaves it) whose proxy admin port is `admin`. */
export function addMeshedPod(api: FakeKubeApi, namespace: string, name: string, admin: number, injectedUnder: string): void {
  api.addPod({
    metadata: { name, namespace, annotations: { [PROXY_VERSION_ANNOTATION]: 'test', [BUNDLE_FINGERPRINT_ANNOTATION]: bundleFingerprint(injectedUnder) } },
    spec: { serviceAccountName: name, containers: [{ name }, { name: 'lanyard-proxy', ports: [{ name: 'lanyard-proxy', containerPort: 4143 }, { name: 'lanyard-admin', containerPort: admin }] }] },
    status: { phase: 'Running', podIP: '127.0.0.1' },
  });
}

export const CONTROL_NAMESPACE = NS;

/**
 * What the kubelet does for mounted volumes, at once instead of within a minute: the bundle
 * ConfigMap is written to `bundlePath`, the issuer Secret to `issuerDir` (as issuer.crt and
 * issuer.key, the names the development PKI uses), each atomically.
 */
export function mirrorVolumes(api: FakeKubeApi, o: { bundlePath: string; issuerDir: string }): () => void {
  return api.resources.onStored((obj) => {
    if (obj.kind === 'ConfigMap' && obj.metadata.name === TRUST_BUNDLE_CONFIGMAP) {
      atomicWrite(o.bundlePath, (obj.data as Record<string, string>)[TRUST_BUNDLE_KEY]);
    } else if (obj.kind === 'Secret' && obj.metadata.name === ISSUER_SECRET) {
      const data = obj.data as Record<string, string>;
      atomicWrite(join(o.issuerDir, 'issuer.key'), Buffer.from(data['tls.key'], 'base64').toString(), 0o600);
      atomicWrite(join(o.issuerDir, 'issuer.crt'), Buffer.from(data['tls.crt'], 'base64').toString());
    }
  });
}

function atomicWrite(path: string, text: string, mode = 0o644): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode });
  renameSync(tmp, path);
}
