/**
 * A rotation on a cluster: the issuer Secret (`kubernetes.io/tls`) and the trust-bundle
 * ConfigMap that `lanyard install` creates, through src/k8s. Each change is read → change →
 * replace with the resourceVersion read, worked out again on a 409 Conflict
 * (src/k8s/optimistic-update.ts), so a concurrent edit is never overwritten. A bundle
 * change also goes to the injector webhook's caBundle, which the API server verifies the
 * injector's certificate with; the proxies get the ConfigMap as a mounted volume, which the
 * kubelet updates in place.
 */
import { X509Certificate } from 'node:crypto';
import type { V1ConfigMap, V1MutatingWebhookConfiguration, V1Secret } from '@kubernetes/client-node';
import { componentName, ISSUER_SECRET, TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY } from '../../src/inject/mesh-names.js';
import { readConfigMap, readMutatingWebhook, readSecret, replaceConfigMap, replaceMutatingWebhook, replaceSecret } from '../../src/k8s/config-objects.js';
import { K8sError } from '../../src/k8s/errors.js';
import type { K8sClient } from '../../src/k8s/k8s-client.js';
import { updateWithRetry } from '../../src/k8s/optimistic-update.js';
import { encodeBundle, parseBundle } from '../bundle.js';
import type { RotationTarget, TargetChange, TargetSnapshot } from './rotation-target.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const unb64 = (s: string | undefined): string | null => (s === undefined ? null : Buffer.from(s, 'base64').toString('utf8'));

export class ClusterTarget implements RotationTarget {
  readonly description: string;
  private readonly secretName: string;
  private readonly configMapName: string;

  constructor(
    private readonly client: K8sClient,
    private readonly namespace: string,
  ) {
    this.secretName = `Secret ${namespace}/${ISSUER_SECRET}`;
    this.configMapName = `ConfigMap ${namespace}/${TRUST_BUNDLE_CONFIGMAP}`;
    this.description = `${this.secretName} and ${this.configMapName}`;
  }

  async read(): Promise<TargetSnapshot> {
    const [secret, configMap] = await Promise.all([readSecret(this.client, this.namespace, ISSUER_SECRET), readConfigMap(this.client, this.namespace, TRUST_BUNDLE_CONFIGMAP)]);
    if (!configMap) throw new K8sError('ERR_K8S_STATUS', `${this.configMapName} does not exist (is Lanyard installed in ${this.namespace}? --control-namespace)`, 404);
    if (!secret) throw new K8sError('ERR_K8S_STATUS', `${this.secretName} does not exist (is Lanyard installed in ${this.namespace}? --control-namespace)`, 404);
    return { bundle: this.bundleOf(configMap), issuerCertPem: unb64(secret.data?.['tls.crt']) };
  }

  async updateBundle(change: (anchors: X509Certificate[]) => X509Certificate[] | null): Promise<TargetChange> {
    let pem = '';
    const cm = await updateWithRetry<V1ConfigMap>(this.configMapName, {
      read: () => readConfigMap(this.client, this.namespace, TRUST_BUNDLE_CONFIGMAP),
      change: (current) => {
        const next = change(this.bundleOf(current));
        if (!next) return null;
        pem = encodeBundle(next);
        return { ...current, data: { ...current.data, [TRUST_BUNDLE_KEY]: pem } };
      },
      replace: (next) => replaceConfigMap(this.client, next),
    });
    if (!cm.changed) return { changed: false, conflicts: cm.conflicts };
    const webhook = await this.updateWebhookCaBundle(pem);
    return { changed: true, conflicts: cm.conflicts + webhook };
  }

  async installIssuer(certPem: string, keyPem: string): Promise<TargetChange> {
    const fingerprint = new X509Certificate(certPem).fingerprint256;
    const r = await updateWithRetry<V1Secret>(this.secretName, {
      read: () => readSecret(this.client, this.namespace, ISSUER_SECRET),
      change: (current) => {
        const pem = unb64(current.data?.['tls.crt']);
        if (pem && safeFingerprint(pem) === fingerprint) return null;
        return { ...current, data: { ...current.data, 'tls.crt': b64(certPem), 'tls.key': b64(keyPem) } };
      },
      replace: (next) => replaceSecret(this.client, next),
    });
    return { changed: r.changed, conflicts: r.conflicts };
  }

  /** The webhook's caBundle follows the bundle; a missing webhook (no injector installed) is fine. Returns the conflicts. */
  private async updateWebhookCaBundle(pem: string): Promise<number> {
    const name = componentName('injector');
    const read = () => readMutatingWebhook(this.client, name);
    if (!(await read())) return 0;
    const r = await updateWithRetry<V1MutatingWebhookConfiguration>(`MutatingWebhookConfiguration ${name}`, {
      read,
      change: (current) => {
        const hooks = current.webhooks ?? [];
        if (hooks.every((h) => h.clientConfig?.caBundle === b64(pem))) return null;
        return { ...current, webhooks: hooks.map((h) => ({ ...h, clientConfig: { ...h.clientConfig, caBundle: b64(pem) } })) };
      },
      replace: (next) => replaceMutatingWebhook(this.client, next),
    });
    return r.conflicts;
  }

  private bundleOf(cm: V1ConfigMap): X509Certificate[] {
    const text = cm.data?.[TRUST_BUNDLE_KEY];
    if (text === undefined) throw new K8sError('ERR_K8S_MALFORMED', `${this.configMapName} has no ${TRUST_BUNDLE_KEY}`);
    return parseBundle(text, `${this.configMapName} ${TRUST_BUNDLE_KEY}`);
  }
}

function safeFingerprint(pem: string): string | null {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return null;
  }
}
