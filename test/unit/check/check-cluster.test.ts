/**
 * The `lanyard-kubernetes` checks on data, and the pod rules they and the rotation share
 * (meshed or not, the proxy's admin port by name, control-plane ports, exempt pods).
 */
import type { CaMaterial } from '../../../certs/ca.js';
import { checkCluster, type ClusterObservation } from '../../../src/check/check-cluster.js';
import type { CheckResult, CheckStatus } from '../../../src/check/check-result.js';
import { componentAddresses, pendingMeshedPods, podSummary, proxyAdminAddress } from '../../../src/check/mesh-pods.js';
import { bundleFingerprint } from '../../../src/pki/bundle-fingerprint.js';
import { anchorCa, cert, issuerCa, leafCa, NOW } from './check-fixtures.js';

let root: CaMaterial;
let issuer: CaMaterial;
let injectorLeaf: string;
beforeAll(async () => {
  root = await anchorCa();
  issuer = await issuerCa(root);
  injectorLeaf = (await leafCa(issuer, 'lanyard-injector.lanyard.svc')).certPem;
});

function observation(o: Partial<ClusterObservation> = {}): ClusterObservation {
  return {
    controlNamespace: 'lanyard',
    apiError: null,
    secret: { name: 'lanyard-identity-issuer', found: true, type: 'kubernetes.io/tls', keys: ['tls.crt', 'tls.key'] },
    configMap: { name: 'lanyard-trust-anchors', key: 'ca-bundle.crt', found: true, keys: ['ca-bundle.crt'] },
    deployments: ['identity', 'discovery', 'injector'].map((c) => ({ name: `lanyard-${c}`, desired: 2, ready: 2, updated: 2 })),
    webhook: { name: 'lanyard-injector', found: true, caBundlePem: root.certPem },
    injectors: [{ address: '10.0.0.9:8443', error: null, chain: [cert({ certPem: injectorLeaf }), cert(issuer)] }],
    probed: true,
    pods: [{ namespace: 'shop', name: 'web', meshed: true, bundleFingerprint: bundleFingerprint(root.certPem), exempt: false }],
    injectedNamespaces: ['shop'],
    ...o,
  };
}
const chainOk: CheckResult = { id: 'issuer-chains-to-anchor', description: '', status: 'ok', details: [] };
function run(o: Partial<ClusterObservation> = {}, issuerChain: CheckResult | null = chainOk): Record<string, CheckStatus> {
  const c = checkCluster({ cluster: observation(o), anchors: [cert(root)], bundlePem: root.certPem, issuerChain, now: NOW });
  return Object.fromEntries(c.checks.map((x) => [x.id, x.status]));
}
const OK = {
  'k8s-api': 'ok',
  'k8s-issuer-secret': 'ok',
  'k8s-bundle-configmap': 'ok',
  'k8s-secret-and-configmap-agree': 'ok',
  'k8s-control-plane-ready': 'ok',
  'k8s-webhook-ca-bundle': 'ok',
  'k8s-webhook-certificate': 'ok',
  'k8s-pods-bundle-annotation': 'ok',
  'k8s-pods-without-proxy': 'ok',
};

test.each([
  ['ok/all-good', () => ({}), {}],
  ['fail/secret-missing', () => ({ secret: { name: 's', found: false, type: null, keys: [] } }), { 'k8s-issuer-secret': 'fail' }],
  ['fail/secret-of-the-wrong-type', () => ({ secret: { name: 's', found: true, type: 'Opaque', keys: ['tls.crt'] } }), { 'k8s-issuer-secret': 'fail' }],
  ['fail/configmap-without-its-key', () => ({ configMap: { name: 'c', key: 'ca-bundle.crt', found: true, keys: ['ca.crt'] } }), { 'k8s-bundle-configmap': 'fail' }],
  ['fail/a-deployment-missing-and-one-short', () => ({ deployments: [{ name: 'lanyard-identity', desired: null, ready: 0, updated: 0 }, { name: 'lanyard-injector', desired: 2, ready: 1, updated: 2 }] }), { 'k8s-control-plane-ready': 'fail' }],
  ['warn/webhook-missing', () => ({ webhook: { name: 'w', found: false, caBundlePem: null } }), { 'k8s-webhook-ca-bundle': 'warn', 'k8s-webhook-certificate': 'skip' }],
  ['warn/ca-bundle-differs', () => ({ webhook: { name: 'w', found: true, caBundlePem: rootOther.certPem + root.certPem } }), { 'k8s-webhook-ca-bundle': 'warn' }],
  ['fail/injector-certificate-from-another-anchor', () => ({ webhook: { name: 'w', found: true, caBundlePem: rootOther.certPem } }), { 'k8s-webhook-ca-bundle': 'warn', 'k8s-webhook-certificate': 'fail' }],
  ['fail/injector-unreachable', () => ({ injectors: [{ address: '10.0.0.9:8443', error: 'connection refused', chain: [] }] }), { 'k8s-webhook-certificate': 'fail' }],
  ['skip/no-injector-running', () => ({ injectors: [] }), { 'k8s-webhook-certificate': 'skip' }],
  ['skip/pods-not-probed', () => ({ injectors: [], probed: false }), { 'k8s-webhook-certificate': 'skip' }],
  ['warn/pod-injected-under-another-bundle', () => ({ pods: [{ namespace: 'shop', name: 'web', meshed: true, bundleFingerprint: 'ab'.repeat(32), exempt: false }] }), { 'k8s-pods-bundle-annotation': 'warn' }],
  ['warn/pod-without-proxy-in-an-injected-namespace', () => ({ pods: [{ namespace: 'shop', name: 'old', meshed: false, bundleFingerprint: null, exempt: false }] }), { 'k8s-pods-without-proxy': 'warn' }],
  ['ok/exempt-or-elsewhere-pods-without-proxy', () => ({ pods: [{ namespace: 'shop', name: 'agent', meshed: false, bundleFingerprint: null, exempt: true }, { namespace: 'other', name: 'x', meshed: false, bundleFingerprint: null, exempt: false }] }), {}],
] as const)('%s', (_n, o, expected) => {
  expect(run(o() as Partial<ClusterObservation>)).toEqual({ ...OK, ...expected });
});

let rootOther: CaMaterial;
beforeAll(async () => {
  rootOther = await anchorCa({ cn: 'other' });
});

test('the Secret and ConfigMap disagree when the issuer does not chain to the bundle', () => {
  expect(run({}, { id: 'issuer-chains-to-anchor', description: '', status: 'fail', details: ['x does not chain'], hint: 'h' })['k8s-secret-and-configmap-agree']).toBe('fail');
  expect(run({}, null)['k8s-secret-and-configmap-agree']).toBe('skip');
});

test('an API that does not answer: every other check skipped', () => {
  const c = checkCluster({ cluster: observation({ apiError: 'ECONNREFUSED' }), anchors: null, bundlePem: null, issuerChain: null, now: NOW });
  expect(c.checks.map((x) => x.status)).toEqual(['fail', ...Array(8).fill('skip')]);
});

describe('pods', () => {
  const meshed = (extra: Record<string, unknown> = {}) => ({
    metadata: { name: 'web-1', namespace: 'shop', annotations: { 'lanyard.io/proxy-version': 'v1', 'lanyard.io/trust-bundle-sha256': 'ab' } },
    spec: { containers: [{ name: 'web' }, { name: 'lanyard-proxy', ports: [{ name: 'lanyard-admin', containerPort: 14191 }] }] },
    status: { phase: 'Running', podIP: '10.1.2.3' },
    ...extra,
  });
  test('a running meshed pod: its admin port by name, or 4191', () => {
    expect(proxyAdminAddress(meshed())).toEqual({ pod: 'shop/web-1', address: '10.1.2.3:14191' });
    expect(proxyAdminAddress({ ...meshed(), spec: { containers: [{ name: 'lanyard-proxy' }] } })).toEqual({ pod: 'shop/web-1', address: '10.1.2.3:4191' });
    expect(proxyAdminAddress({ ...meshed(), status: { phase: 'Running', podIP: 'fd00::7' } })?.address).toBe('[fd00::7]:14191');
    expect(proxyAdminAddress({ ...meshed(), status: { phase: 'Pending' } })).toBeNull();
    expect(pendingMeshedPods([meshed({ status: { phase: 'Pending' } }), meshed()])).toEqual(['shop/web-1']);
    expect(proxyAdminAddress({ metadata: { name: 'x' }, spec: { containers: [{ name: 'x' }] }, status: { phase: 'Running', podIP: '10.0.0.1' } })).toBeNull();
  });
  test('control-plane pods by label and named ports', () => {
    const pod = { metadata: { name: 'id-0', namespace: 'lanyard', labels: { 'lanyard.io/control-plane-component': 'identity' } }, spec: { containers: [{ name: 'identity', ports: [{ name: 'grpc', containerPort: 8080 }, { name: 'admin', containerPort: 9990 }] }] }, status: { phase: 'Running', podIP: '10.0.0.5' } };
    expect(componentAddresses(pod, 'identity')).toEqual({ pod: 'lanyard/id-0', serving: '10.0.0.5:8080', admin: '10.0.0.5:9990' });
    expect(componentAddresses(pod, 'injector')).toBeNull();
  });
  test('exempt: opted out, hostNetwork, finished', () => {
    const base = { metadata: { name: 'a', namespace: 'shop' }, spec: { containers: [{ name: 'a' }] }, status: { phase: 'Running' } };
    expect([
      podSummary(base).exempt,
      podSummary({ ...base, metadata: { ...base.metadata, annotations: { 'lanyard.io/inject': 'disabled' } } }).exempt,
      podSummary({ ...base, spec: { ...base.spec, hostNetwork: true } }).exempt,
      podSummary({ ...base, status: { phase: 'Succeeded' } }).exempt,
    ]).toEqual([false, true, true, true]);
    expect(podSummary(meshed())).toEqual({ namespace: 'shop', name: 'web-1', meshed: true, bundleFingerprint: 'ab', exempt: false });
  });
});
