/** The injector's decision on AdmissionReviews, as a table: who is injected, and the answer to everything else. */
import { BadReviewError, decide, readReview, type AdmissionAnswer } from '../../../src/inject/admission-review.js';
import { injectConfigFrom } from '../../../src/inject/inject-config.js';
import { applyPatch } from '../../../src/inject/json-patch.js';
import { isMeshedPod } from '../../../src/inject/meshed-pod.js';
import { loadValues } from '../../../src/install/load-values.js';

const cfg = injectConfigFrom(loadValues('0.1.0', {}), 'f'.repeat(64));
const EXCLUDED = ['kube-system', 'kube-node-lease', 'lanyard'];
const pod = (annotations: Record<string, string> = {}, spec: Record<string, unknown> = { containers: [{ name: 'app', image: 'a' }] }) => ({ apiVersion: 'v1', kind: 'Pod', metadata: { generateName: 'web-', annotations }, spec });
const review = (object: unknown, over: Record<string, unknown> = {}) => ({
  apiVersion: 'admission.k8s.io/v1',
  kind: 'AdmissionReview',
  request: { uid: 'u-1', kind: { group: '', version: 'v1', kind: 'Pod' }, resource: { group: '', version: 'v1', resource: 'pods' }, operation: 'CREATE', namespace: 'shop', object, ...over },
});
function run(body: unknown, nsAnnotations: Record<string, string> | null = {}): AdmissionAnswer {
  const r = readReview(body);
  return 'review' in r ? r : decide({ request: r, namespaceAnnotations: nsAnnotations, cfg, excludedNamespaces: EXCLUDED });
}
const enabled = { 'lanyard.io/inject': 'enabled' };
const disabled = { 'lanyard.io/inject': 'disabled' };

describe('AdmissionReview decisions', () => {
  test.each([
    ['ok/pod annotated enabled', review(pod(enabled)), {}, 'injected'],
    ['ok/namespace annotated enabled', review(pod()), enabled, 'injected'],
    ['ok/nobody asked', review(pod()), {}, 'unchanged'],
    ['ok/pod opts out of an enabled namespace', review(pod(disabled)), enabled, 'unchanged'],
    ['ok/a namespace that opts out wins over the pod', review(pod(enabled)), disabled, 'unchanged'],
    ['ok/kube-system is never injected', review(pod(enabled), { namespace: 'kube-system' }), enabled, 'unchanged'],
    ['ok/the control plane namespace is never injected', review(pod(enabled), { namespace: 'lanyard' }), enabled, 'unchanged'],
    ['ok/hostNetwork is skipped', review(pod(enabled, { hostNetwork: true, containers: [{ name: 'a' }] })), {}, 'skipped'],
    ['ok/an unreadable namespace: the pod\'s own annotation still counts', review(pod(enabled)), null, 'injected'],
    ['ok/an unreadable namespace and no pod annotation', review(pod()), null, 'unchanged'],
    ['ok/wrong kind', review({}, { kind: { group: 'apps', version: 'v1', kind: 'Deployment' } }), {}, 'unchanged'],
    ['ok/UPDATE is not injected', review(pod(enabled), { operation: 'UPDATE' }), {}, 'unchanged'],
    ['fail/no object', review(undefined), {}, 'refused'],
    ['fail/an object without spec', review({ metadata: {} }), {}, 'refused'],
    ['fail/no namespace', review(pod(enabled), { namespace: '' }), {}, 'refused'],
  ])('%s', (_n, body, ns, decision) => {
    const a = run(body, ns as Record<string, string> | null);
    expect(a.decision).toBe(decision);
    expect(a.review).toMatchObject({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: 'u-1', allowed: decision !== 'refused' } });
    if (decision !== 'injected') expect(a.review.response.patch).toBeUndefined();
    if (decision === 'refused') expect((a.review.response.status as { message: string }).message).toMatch(/lanyard injector/);
  });

  test('ok/an injected answer is a base64 JSONPatch that meshes the pod', () => {
    const p = pod(enabled);
    const a = run(review(p));
    expect(a.review.response.patchType).toBe('JSONPatch');
    const ops = JSON.parse(Buffer.from(a.review.response.patch as string, 'base64').toString());
    const patched = applyPatch(p, ops);
    expect(isMeshedPod(patched)).toBe(true);
    expect(patched.metadata.annotations['lanyard.io/trust-bundle-sha256']).toBe('f'.repeat(64));
  });

  test('ok/a pod that wanted a proxy but was skipped gets a warning kubectl shows', () => {
    const a = run(review(pod(enabled, { hostNetwork: true, containers: [{ name: 'a' }] })));
    expect(a.review.response.warnings).toEqual([expect.stringMatching(/^lanyard injector: not injected: hostNetwork/)]);
  });

  test.each([
    ['not an object', 'hello'],
    ['an array', []],
    ['wrong kind', { apiVersion: 'admission.k8s.io/v1', kind: 'Pod' }],
    ['v1beta1', { apiVersion: 'admission.k8s.io/v1beta1', kind: 'AdmissionReview', request: { uid: 'x' } }],
    ['no uid', { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: {} }],
  ])('fail/%s is a bad review', (_n, body) => {
    expect(() => readReview(body)).toThrow(BadReviewError);
  });
});

describe('checkWebhookCertificate', () => {
  test('ok and fail/name, chain and validity', async () => {
    const { X509Certificate, generateKeyPairSync } = await import('node:crypto');
    const { checkWebhookCertificate } = await import('../../../src/inject/webhook-certificate.js');
    const { createTestPki } = await import('../../support/test-ca.js');
    const { LeafSigner } = await import('../../../src/pki/leaf-signer.js');
    const pki = await createTestPki();
    const other = await createTestPki();
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { ecPublicKeyOf } = await import('../../../src/pki/ec-key.js');
    const sign = async (extra: string[]) => {
      const now = Date.now();
      const { der } = await new LeafSigner(pki.issuerCert.raw, pki.issuerKey).sign({
        key: ecPublicKeyOf(kp.publicKey),
        dnsName: 'lanyard-injector.lanyard.serviceaccount.identity.lanyard.cluster.local',
        extraDnsNames: extra,
        spiffeId: 'spiffe://cluster.local/ns/lanyard/sa/lanyard-injector',
        notBefore: new Date(now - 1000),
        notAfter: new Date(now + 3_600_000),
      });
      return [new X509Certificate(der), pki.issuerCert];
    };
    const good = await sign(['lanyard-injector.lanyard.svc']);
    const ok = checkWebhookCertificate(good, pki.anchor.certPem, 'lanyard', new Date());
    expect(ok.problems).toEqual([]);
    expect(ok.remainingMs).toBeGreaterThan(3_500_000);
    expect(checkWebhookCertificate(await sign([]), pki.anchor.certPem, 'lanyard', new Date()).problems).toEqual([expect.stringContaining('does not name lanyard-injector.lanyard.svc')]);
    expect(checkWebhookCertificate(good, other.anchor.certPem, 'lanyard', new Date()).problems).toEqual([expect.stringContaining('does not chain to any trust anchor')]);
    const later = checkWebhookCertificate(good, pki.anchor.certPem, 'lanyard', new Date(Date.now() + 7_200_000));
    expect(later.problems).toEqual([expect.stringContaining('expired')]);
    expect(later.remainingMs).toBeLessThan(0);
  });
});
