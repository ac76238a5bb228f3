/**
 * The `lanyard-kubernetes` category: what only a cluster shows. The issuer Secret and the
 * trust-bundle ConfigMap exist and agree, the control plane's Deployments are ready, the
 * injector's serving certificate chains to the webhook's caBundle (Linkerd's
 * "proxy-injector webhook has valid cert"), meshed pods were injected under the current
 * bundle, and no pod of an injected namespace runs without a proxy (the webhook's
 * failurePolicy is Ignore). Pure: an observation in, checks out.
 */
import type { X509Certificate } from 'node:crypto';
import { checkWebhookCertificate } from '../inject/webhook-certificate.js';
import { bundleFingerprint } from '../pki/bundle-fingerprint.js';
import { fail, ok, skip, warn, type CheckCategory, type CheckResult } from './check-result.js';
import { span } from './expiry.js';
import type { TlsObservation } from './identity-probe.js';

export const CLUSTER_CATEGORY = 'lanyard-kubernetes';

export interface DeploymentState {
  name: string;
  /** null: not found. */
  desired: number | null;
  ready: number;
  updated: number;
}

export interface PodSummary {
  namespace: string;
  name: string;
  meshed: boolean;
  /** The lanyard.io/trust-bundle-sha256 annotation, or null. */
  bundleFingerprint: string | null;
  /** Pods the webhook leaves alone: opted out, hostNetwork, finished. */
  exempt: boolean;
}

export interface ClusterObservation {
  controlNamespace: string;
  /** Why the API could not be read; null when it could. */
  apiError: string | null;
  secret: { name: string; found: boolean; type: string | null; keys: string[] };
  configMap: { name: string; key: string; found: boolean; keys: string[] };
  deployments: DeploymentState[];
  webhook: { name: string; found: boolean; caBundlePem: string | null };
  /** The injector pods' TLS handshakes; empty when none runs or pods were not probed. */
  injectors: TlsObservation[];
  /** False with --no-pod-probes: pod IPs were not connected to. */
  probed: boolean;
  pods: PodSummary[];
  /** Namespaces annotated lanyard.io/inject: enabled. */
  injectedNamespaces: string[];
}

export interface ClusterCheckInput {
  cluster: ClusterObservation;
  /** The ConfigMap's bundle, parsed; null when unusable. */
  anchors: readonly X509Certificate[] | null;
  bundlePem: string | null;
  /** The `issuer-chains-to-anchor` check of the PKI category (the Secret's issuer against the ConfigMap's bundle). */
  issuerChain: CheckResult | null;
  now: Date;
}

const D = {
  api: ['k8s-api', 'the Kubernetes API answers'],
  secret: ['k8s-issuer-secret', 'the issuer Secret exists, of type kubernetes.io/tls with tls.crt and tls.key'],
  configMap: ['k8s-bundle-configmap', 'the trust-bundle ConfigMap exists with its bundle key'],
  agree: ['k8s-secret-and-configmap-agree', "the Secret's issuer chains to the ConfigMap's bundle"],
  deployments: ['k8s-control-plane-ready', 'the control-plane Deployments are ready'],
  caBundle: ['k8s-webhook-ca-bundle', "the injector webhook's caBundle is the trust bundle"],
  webhookCert: ['k8s-webhook-certificate', "the injector's serving certificate is valid and chains to the webhook's caBundle"],
  annotations: ['k8s-pods-bundle-annotation', 'meshed pods were injected under the current trust bundle'],
  unmeshed: ['k8s-pods-without-proxy', 'every pod of an injected namespace runs a proxy'],
} as const;

export function checkCluster(input: ClusterCheckInput): CheckCategory {
  const c = input.cluster;
  if (c.apiError) {
    const rest = Object.values(D).slice(1).map(([id, d]) => skip(id, d, 'the Kubernetes API did not answer'));
    return { name: CLUSTER_CATEGORY, checks: [fail(D.api[0], D.api[1], [c.apiError], 'check --kubeconfig (or KUBECONFIG) and that this user may read Secrets, ConfigMaps, Deployments and pods in the namespace'), ...rest] };
  }
  const checks: CheckResult[] = [ok(D.api[0], D.api[1]), secretCheck(c), configMapCheck(c), agreeCheck(input), deploymentsCheck(c), caBundleCheck(input), webhookCertCheck(input), annotationCheck(input), unmeshedCheck(c)];
  return { name: CLUSTER_CATEGORY, checks };
}

function secretCheck(c: ClusterObservation): CheckResult {
  const [id, d] = D.secret;
  const where = `Secret ${c.controlNamespace}/${c.secret.name}`;
  if (!c.secret.found) return fail(id, d, [`${where} does not exist`], 'install it: `lanyard install` renders it, or kubectl create secret tls ... --cert issuer.crt --key issuer.key');
  const missing = ['tls.crt', 'tls.key'].filter((k) => !c.secret.keys.includes(k));
  const problems = [...(c.secret.type !== 'kubernetes.io/tls' ? [`${where} is of type ${c.secret.type ?? '(none)'}`] : []), ...missing.map((k) => `${where} has no ${k}`)];
  return problems.length ? fail(id, d, problems, 'the identity service mounts tls.crt and tls.key from a kubernetes.io/tls Secret') : ok(id, d, [where]);
}

function configMapCheck(c: ClusterObservation): CheckResult {
  const [id, d] = D.configMap;
  const where = `ConfigMap ${c.controlNamespace}/${c.configMap.name}`;
  if (!c.configMap.found) return fail(id, d, [`${where} does not exist`], '`lanyard install` renders it; every proxy mounts it');
  if (!c.configMap.keys.includes(c.configMap.key)) return fail(id, d, [`${where} has no ${c.configMap.key} (it has ${c.configMap.keys.join(', ') || 'nothing'})`], `the bundle must be under ${c.configMap.key}: proxies mount that key`);
  return ok(id, d, [where]);
}

function agreeCheck(input: ClusterCheckInput): CheckResult {
  const [id, d] = D.agree;
  const chain = input.issuerChain;
  if (!chain || chain.status === 'skip') return skip(id, d, chain?.details[0] ?? 'the issuer or the bundle is missing');
  if (chain.status === 'ok') return ok(id, d);
  return fail(id, d, chain.details, "the identity service refuses this issuer: put the new anchor in the ConfigMap before the issuer it signed (lanyard certs rotate anchor does it in that order)");
}

function deploymentsCheck(c: ClusterObservation): CheckResult {
  const [id, d] = D.deployments;
  const bad = c.deployments.flatMap((dep) => {
    if (dep.desired === null) return [`Deployment ${c.controlNamespace}/${dep.name} does not exist`];
    if (dep.ready < dep.desired || dep.updated < dep.desired) return [`Deployment ${c.controlNamespace}/${dep.name}: ${dep.ready} of ${dep.desired} ready, ${dep.updated} updated`];
    return [];
  });
  const hint = `kubectl -n ${c.controlNamespace} describe deploy,pods shows why (an image that does not pull, a probe that fails: /ready says why on the admin port)`;
  return bad.length ? fail(id, d, bad, hint) : ok(id, d, c.deployments.map((x) => `${x.name}: ${x.ready}/${x.desired}`));
}

function caBundleCheck(input: ClusterCheckInput): CheckResult {
  const [id, d] = D.caBundle;
  const w = input.cluster.webhook;
  if (!w.found) return warn(id, d, [`MutatingWebhookConfiguration ${w.name} does not exist`], 'without it no pod is injected automatically; `lanyard install` renders it');
  if (!w.caBundlePem || !input.bundlePem) return skip(id, d, w.caBundlePem ? 'no trust bundle to compare with' : 'the webhook has no caBundle');
  let same = false;
  try {
    same = bundleFingerprint(w.caBundlePem) === bundleFingerprint(input.bundlePem);
  } catch (e) {
    return fail(id, d, [`the caBundle cannot be read: ${(e as Error).message}`], 'set the caBundle to the trust bundle (base64 of its PEM)');
  }
  if (same) return ok(id, d);
  return warn(id, d, ["the webhook's caBundle and the ConfigMap's bundle hold different anchors"], 'the API server verifies the injector with the caBundle: give it the same anchors as the bundle (lanyard certs rotate updates both)');
}

function webhookCertCheck(input: ClusterCheckInput): CheckResult {
  const [id, d] = D.webhookCert;
  const { webhook, injectors, controlNamespace } = input.cluster;
  if (!webhook.found || !webhook.caBundlePem) return skip(id, d, 'no webhook caBundle');
  if (!input.cluster.probed) return skip(id, d, 'pods were not probed (--no-pod-probes)');
  if (!injectors.length) return skip(id, d, 'no injector pod is running');
  const problems: string[] = [];
  const fine: string[] = [];
  for (const t of injectors) {
    if (t.error) {
      problems.push(`${t.address}: ${t.error}`);
      continue;
    }
    const r = checkWebhookCertificate(t.chain, webhook.caBundlePem, controlNamespace, input.now);
    if (r.problems.length) problems.push(...r.problems.map((p) => `${t.address}: ${p}`));
    else fine.push(`${t.address}: expires in ${span(r.remainingMs)}`);
  }
  return problems.length ? fail(id, d, problems, 'the API server refuses to call the injector, so new pods start without a proxy: check the injector log (it renews its certificate from the identity service)') : ok(id, d, fine);
}

function annotationCheck(input: ClusterCheckInput): CheckResult {
  const [id, d] = D.annotations;
  if (!input.bundlePem) return skip(id, d, 'no trust bundle to compare with');
  let current: string;
  try {
    current = bundleFingerprint(input.bundlePem);
  } catch {
    return skip(id, d, 'the trust bundle cannot be read');
  }
  const stale = input.cluster.pods.filter((p) => p.meshed && p.bundleFingerprint !== null && p.bundleFingerprint !== current);
  if (!stale.length) return ok(id, d);
  return warn(
    id,
    d,
    [...stale.slice(0, 20).map((p) => `${p.namespace}/${p.name}: injected under ${p.bundleFingerprint!.slice(0, 12)}…, the bundle is now ${current.slice(0, 12)}…`), ...(stale.length > 20 ? [`and ${stale.length - 20} more`] : [])],
    'their proxies read the mounted bundle live, so this alone is harmless (see lanyard-proxies for the anchors they use); a rollout restart records the current bundle',
  );
}

function unmeshedCheck(c: ClusterObservation): CheckResult {
  const [id, d] = D.unmeshed;
  if (!c.injectedNamespaces.length) return ok(id, d, ['no namespace is annotated lanyard.io/inject: enabled']);
  const bare = c.pods.filter((p) => c.injectedNamespaces.includes(p.namespace) && !p.meshed && !p.exempt);
  if (!bare.length) return ok(id, d);
  return warn(
    id,
    d,
    bare.slice(0, 20).map((p) => `${p.namespace}/${p.name} runs without a proxy`),
    "they started while the injector was unavailable (failurePolicy Ignore): check lanyard-injector, then restart them (kubectl rollout restart) to inject them",
  );
}
