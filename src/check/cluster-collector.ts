/**
 * What `lanyard check --kubernetes` reads from a cluster: the issuer Secret and the bundle
 * ConfigMap (the PKI the identity service and the proxies mount), the control plane's
 * Deployments, the injector webhook, namespaces and pods; then, by pod IP, each meshed
 * pod's proxy admin port, the identity service and the injector's TLS. Every read goes
 * through src/k8s; a failed read is reported, not thrown.
 */
import { COMPONENTS, componentName, INJECT_ANNOTATION, injectorServiceName, ISSUER_SECRET, TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY } from '../inject/mesh-names.js';
import { listDeployments, listNamespaces, listPods, readConfigMap, readMutatingWebhook, readSecret } from '../k8s/config-objects.js';
import type { K8sClient } from '../k8s/k8s-client.js';
import { checkCluster, type ClusterObservation } from './check-cluster.js';
import type { PkiInput } from './check-pki.js';
import { probeTls } from './identity-probe.js';
import { componentAddresses, pendingMeshedPods, podSummary, proxyAdminAddress } from './mesh-pods.js';
import { readProxy } from './proxy-report.js';
import type { ClusterFindings } from './run-check.js';

export interface ClusterSource {
  client: K8sClient;
  controlNamespace: string;
  /** Per call. */
  timeoutMs: number;
  /** Connect to pods by IP (proxies, identity service, injector). Default true; false where pod IPs do not route. */
  probePods?: boolean;
}

const decode = (b64: string | undefined): string | null => (b64 === undefined ? null : Buffer.from(b64, 'base64').toString('utf8'));

export async function collectCluster(src: ClusterSource): Promise<ClusterFindings> {
  const ns = src.controlNamespace;
  const call = { timeoutMs: src.timeoutMs };
  const webhookName = componentName('injector');
  let read;
  try {
    read = await Promise.all([
      readSecret(src.client, ns, ISSUER_SECRET, call),
      readConfigMap(src.client, ns, TRUST_BUNDLE_CONFIGMAP, call),
      listDeployments(src.client, ns, call),
      readMutatingWebhook(src.client, webhookName, call),
      listNamespaces(src.client, call),
      listPods(src.client, undefined, call),
    ]);
  } catch (e) {
    return unreachable(ns, (e as Error).message);
  }
  const [secret, configMap, deployments, webhook, namespaces, pods] = read;
  const bundlePem = configMap?.data?.[TRUST_BUNDLE_KEY] ?? null;
  const caBundle = webhook?.webhooks?.[0]?.clientConfig?.caBundle;
  const caBundlePem = caBundle ? Buffer.from(caBundle as unknown as string, 'base64').toString('utf8') : null;
  const cm = `ConfigMap ${ns}/${TRUST_BUNDLE_CONFIGMAP}`;
  const sec = `Secret ${ns}/${ISSUER_SECRET}`;
  const certPem = decode(secret?.data?.['tls.crt']);
  const keyPem = decode(secret?.data?.['tls.key']);
  const pki: PkiInput = {
    bundle: configMap ? (bundlePem !== null ? { ok: true, source: cm, pem: bundlePem } : { ok: false, source: cm, error: `no ${TRUST_BUNDLE_KEY} key` }) : { ok: false, source: cm, error: 'does not exist' },
    issuer: secret ? (certPem && keyPem ? { ok: true, source: sec, certPem, keyPem } : { ok: false, source: sec, error: 'has no tls.crt and tls.key' }) : { ok: false, source: sec, error: 'does not exist' },
  };
  const probe = src.probePods ?? true;
  const proxyAddrs = probe ? pods.flatMap((p) => proxyAdminAddress(p) ?? []) : [];
  const identity = probe ? pods.map((p) => componentAddresses(p, 'identity')).find((a) => a !== null) : undefined;
  const injectorAddrs = probe ? pods.flatMap((p) => componentAddresses(p, 'injector') ?? []) : [];
  const [proxies, injectors] = await Promise.all([
    Promise.all(proxyAddrs.map((a) => readProxy(a.address, { timeoutMs: src.timeoutMs }, a.pod))),
    Promise.all(injectorAddrs.map((a) => probeTls(a.serving, injectorServiceName(ns), src.timeoutMs, ['http/1.1']))),
  ]);
  const pending = pendingMeshedPods(pods);
  const cluster: ClusterObservation = {
    controlNamespace: ns,
    apiError: null,
    secret: { name: ISSUER_SECRET, found: secret !== null, type: secret?.type ?? null, keys: Object.keys(secret?.data ?? {}) },
    configMap: { name: TRUST_BUNDLE_CONFIGMAP, key: TRUST_BUNDLE_KEY, found: configMap !== null, keys: Object.keys(configMap?.data ?? {}) },
    deployments: COMPONENTS.map((c) => deploymentState(componentName(c), deployments)),
    webhook: { name: webhookName, found: webhook !== null, caBundlePem },
    injectors,
    probed: probe,
    pods: pods.map(podSummary),
    injectedNamespaces: namespaces.filter((n) => n.metadata?.annotations?.[INJECT_ANNOTATION] === 'enabled').map((n) => n.metadata!.name!),
  };
  return {
    pki,
    proxies,
    noProxiesBecause: !probe ? 'pods were not probed (--no-pod-probes)' : pending.length ? `no meshed pod is running (${pending.length} not started yet)` : 'no meshed pods in the cluster',
    identity: identity ? { address: identity.serving, adminAddress: identity.admin } : undefined,
    categories: ({ anchors, pki: category, now }) => [checkCluster({ cluster, anchors, bundlePem, issuerChain: category.checks.find((c) => c.id === 'issuer-chains-to-anchor') ?? null, now })],
  };
}

function deploymentState(name: string, all: Awaited<ReturnType<typeof listDeployments>>): ClusterObservation['deployments'][number] {
  const d = all.find((x) => x.metadata?.name === name);
  if (!d) return { name, desired: null, ready: 0, updated: 0 };
  return { name, desired: d.spec?.replicas ?? 1, ready: d.status?.readyReplicas ?? 0, updated: d.status?.updatedReplicas ?? 0 };
}

function unreachable(ns: string, error: string): ClusterFindings {
  const cluster: ClusterObservation = {
    controlNamespace: ns,
    apiError: error,
    secret: { name: ISSUER_SECRET, found: false, type: null, keys: [] },
    configMap: { name: TRUST_BUNDLE_CONFIGMAP, key: TRUST_BUNDLE_KEY, found: false, keys: [] },
    deployments: [],
    webhook: { name: componentName('injector'), found: false, caBundlePem: null },
    injectors: [],
    probed: false,
    pods: [],
    injectedNamespaces: [],
  };
  return {
    pki: { bundle: null, issuer: null },
    proxies: [],
    noProxiesBecause: 'the Kubernetes API did not answer',
    categories: ({ now }) => [checkCluster({ cluster, anchors: null, bundlePem: null, issuerChain: null, now })],
  };
}
