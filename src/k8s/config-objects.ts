/**
 * The objects `lanyard check` and `lanyard certs rotate` read and replace: the issuer
 * Secret, the trust-bundle ConfigMap, the injector's MutatingWebhookConfiguration, the
 * control plane's Deployments, namespaces and pods. Reads answer null for 404; replaces
 * send the object's resourceVersion, so a concurrent change is a 409 (see optimistic-update.ts).
 */
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, type V1ConfigMap, type V1Deployment, type V1MutatingWebhookConfiguration, type V1Namespace, type V1Secret } from '@kubernetes/client-node';
import { K8sError } from './errors.js';
import type { CallOptions, K8sClient } from './k8s-client.js';
import { podsPath, type PodObject } from './pods.js';
import { getJson } from './raw-request.js';

/** Runs a read; a 404 is null. */
async function orNull<T>(read: Promise<T>): Promise<T | null> {
  try {
    return await read;
  } catch (e) {
    if (e instanceof K8sError && e.status === 404) return null;
    throw e;
  }
}

export function readSecret(client: K8sClient, namespace: string, name: string, opts?: CallOptions): Promise<V1Secret | null> {
  const api = client.api(CoreV1Api);
  return orNull(client.call(`get secrets/${name} in ${namespace}`, (o) => api.readNamespacedSecret({ name, namespace }, o), opts));
}

export function replaceSecret(client: K8sClient, body: V1Secret, opts?: CallOptions): Promise<V1Secret> {
  const api = client.api(CoreV1Api);
  const { name, namespace } = identify(body);
  return client.call(`replace secrets/${name} in ${namespace}`, (o) => api.replaceNamespacedSecret({ name, namespace, body }, o), opts);
}

export function readConfigMap(client: K8sClient, namespace: string, name: string, opts?: CallOptions): Promise<V1ConfigMap | null> {
  const api = client.api(CoreV1Api);
  return orNull(client.call(`get configmaps/${name} in ${namespace}`, (o) => api.readNamespacedConfigMap({ name, namespace }, o), opts));
}

export function replaceConfigMap(client: K8sClient, body: V1ConfigMap, opts?: CallOptions): Promise<V1ConfigMap> {
  const api = client.api(CoreV1Api);
  const { name, namespace } = identify(body);
  return client.call(`replace configmaps/${name} in ${namespace}`, (o) => api.replaceNamespacedConfigMap({ name, namespace, body }, o), opts);
}

export function readMutatingWebhook(client: K8sClient, name: string, opts?: CallOptions): Promise<V1MutatingWebhookConfiguration | null> {
  const api = client.api(AdmissionregistrationV1Api);
  return orNull(client.call(`get mutatingwebhookconfigurations/${name}`, (o) => api.readMutatingWebhookConfiguration({ name }, o), opts));
}

export function replaceMutatingWebhook(client: K8sClient, body: V1MutatingWebhookConfiguration, opts?: CallOptions): Promise<V1MutatingWebhookConfiguration> {
  const api = client.api(AdmissionregistrationV1Api);
  const name = body.metadata?.name ?? '';
  return client.call(`replace mutatingwebhookconfigurations/${name}`, (o) => api.replaceMutatingWebhookConfiguration({ name, body }, o), opts);
}

export async function listDeployments(client: K8sClient, namespace: string, opts?: CallOptions): Promise<V1Deployment[]> {
  const api = client.api(AppsV1Api);
  const list = await client.call(`list deployments in ${namespace}`, (o) => api.listNamespacedDeployment({ namespace }, o), opts);
  return list.items ?? [];
}

export async function listNamespaces(client: K8sClient, opts?: CallOptions): Promise<V1Namespace[]> {
  const api = client.api(CoreV1Api);
  const list = await client.call('list namespaces', (o) => api.listNamespace({}, o), opts);
  return list.items ?? [];
}

/** Every pod (or one namespace's), as the API server's JSON: the shape the meshed-pod rule reads. */
export async function listPods(client: K8sClient, namespace?: string, opts?: CallOptions): Promise<PodObject[]> {
  const list = await getJson<{ items?: PodObject[] }>(client, podsPath(namespace), {}, opts);
  return list.items ?? [];
}

function identify(o: { metadata?: { name?: string; namespace?: string } }): { name: string; namespace: string } {
  const name = o.metadata?.name;
  const namespace = o.metadata?.namespace;
  if (!name || !namespace) throw new Error('the object to replace needs metadata.name and metadata.namespace');
  return { name, namespace };
}
