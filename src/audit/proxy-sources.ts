/**
 * Which proxies `lanyard edges`, `lanyard tap` and `lanyard dashboard` read: admin addresses
 * given by the operator, or the meshed pods of one or every namespace, found through the
 * Kubernetes API and reached directly at their pod IP on the proxy's admin port (the
 * command must run where pod IPs route: in the cluster, or on a node).
 */
import { isMeshedPod, proxyAdminPort } from '../inject/meshed-pod.js';
import type { K8sClient } from '../k8s/k8s-client.js';
import { podsPath, type PodObject } from '../k8s/pods.js';
import { getJson } from '../k8s/raw-request.js';
import { formatAddress } from '../util/address.js';

export interface ProxySource {
  /** How output names it: `namespace/pod`, or the address. */
  name: string;
  /** The admin endpoint, `host:port`. */
  admin: string;
}

/** @param addresses `host:port` dial addresses, already checked (src/cli/mesh-options.ts proxyOption) */
export function sourcesFromAddresses(addresses: string[]): ProxySource[] {
  return addresses.map((a) => ({ name: a, admin: a }));
}

export interface KubernetesSources {
  sources: ProxySource[];
  /** Meshed pods that cannot be read (not running, no IP yet), with why. */
  skipped: { pod: string; reason: string }[];
}

/** @param namespace one namespace, or undefined for all of them */
export async function sourcesFromKubernetes(client: K8sClient, namespace: string | undefined): Promise<KubernetesSources> {
  const list = await getJson<{ items?: PodObject[] }>(client, podsPath(namespace));
  const out: KubernetesSources = { sources: [], skipped: [] };
  for (const pod of list.items ?? []) {
    if (!isMeshedPod(pod as Parameters<typeof isMeshedPod>[0])) continue;
    const name = `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;
    const ip = pod.status?.podIP;
    if (pod.metadata?.deletionTimestamp) continue;
    if (pod.status?.phase !== 'Running') out.skipped.push({ pod: name, reason: `phase ${pod.status?.phase ?? 'unknown'}` });
    else if (!ip) out.skipped.push({ pod: name, reason: 'no pod IP yet' });
    else out.sources.push({ name, admin: formatAddress({ host: ip, port: proxyAdminPort(pod) }) });
  }
  out.sources.sort((a, b) => a.name.localeCompare(b.name));
  return out;
}
