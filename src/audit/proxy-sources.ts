/**
 * Which proxies `lanyard edges`, `lanyard tap` and `lanyard dashboard` read: admin addresses
 * given by the operator, or the meshed pods of one or every namespace, found through the
 * Kubernetes API and reached directly at their pod IP on the proxy's admin port (the
 * command must run where pod IPs route: in the cluster, or on a node).
 */
import { isMeshedPod } from '../inject/meshed-pod.js';
import { PORTS, PROXY_CONTAINER } from '../inject/mesh-names.js';
import type { K8sClient } from '../k8s/k8s-client.js';
import { podsPath, type PodObject } from '../k8s/pods.js';
import { getJson } from '../k8s/raw-request.js';
import { formatAddress, parseAddress } from '../util/address.js';

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
    else out.sources.push({ name, admin: formatAddress({ host: ip, port: adminPort(pod) }) });
  }
  out.sources.sort((a, b) => a.name.localeCompare(b.name));
  return out;
}

interface Container {
  name?: string;
  ports?: { name?: string; containerPort?: number }[];
  env?: { name?: string; value?: string }[];
}

/** The proxy container's `lanyard-admin` port, else its LANYARD_PROXY_ADMIN_ADDR, else 4191. */
export function adminPort(pod: PodObject): number {
  const spec = pod.spec as { containers?: Container[]; initContainers?: Container[] } | undefined;
  const proxy = [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])].find((c) => c?.name === PROXY_CONTAINER);
  const named = proxy?.ports?.find((p) => p.name === 'lanyard-admin')?.containerPort;
  if (typeof named === 'number') return named;
  const addr = proxy?.env?.find((e) => e.name === 'LANYARD_PROXY_ADMIN_ADDR')?.value;
  if (addr) {
    try {
      return parseAddress(addr, 'listen').port;
    } catch {
      // a pod whose variable the proxy itself would refuse: it does not serve; use the default
    }
  }
  return PORTS.proxyAdmin;
}
