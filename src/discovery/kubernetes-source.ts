/**
 * Endpoints from the Kubernetes API: a watch of Pods (list, then watch, re-listing after a
 * 410 or a broken stream, through src/k8s). A pod is meshed when it runs the Lanyard proxy
 * (src/inject/meshed-pod.ts: injection's annotation, or a `lanyard-proxy` container or
 * native sidecar) and has an IP; its identity
 * is its service account's. Pods that are terminating, finished, or on the host network
 * are not endpoints.
 */
import type { K8sClient } from '../k8s/k8s-client.js';
import type { ListWatcher } from '../k8s/list-watcher.js';
import { createPodWatcher, type PodObject } from '../k8s/pods.js';
import type { TrustDomain } from '../pki/names.js';
import { isDnsLabel } from '../pki/names.js';
import type { Logger } from '../telemetry/logger.js';
import { isMeshedPod } from '../inject/meshed-pod.js';
import { normalizeAddress, type Endpoint, type EndpointChange, type EndpointSource } from './endpoint.js';

export { PROXY_CONTAINER } from '../inject/mesh-names.js';

export interface KubernetesSourceConfig {
  client: K8sClient;
  trustDomain: TrustDomain;
  /** Watch one namespace. Default: all. */
  namespace?: string;
  logger: Logger;
}

interface PodEndpoint {
  identity: string;
  spiffeId: string;
  workload: string;
}

export class KubernetesSource implements EndpointSource {
  readonly kind = 'kubernetes';
  private readonly watcher: ListWatcher<PodObject>;
  /** pod uid → the IPs it currently owns, so a pod's old IPs are dropped when it changes. */
  private readonly ipsByPod = new Map<string, string[]>();
  private readonly byIp = new Map<string, PodEndpoint>();
  private readonly listeners = new Set<(change: EndpointChange) => void>();
  private synced = false;

  constructor(private readonly cfg: KubernetesSourceConfig) {
    this.watcher = createPodWatcher(cfg.client, { namespace: cfg.namespace, logger: cfg.logger });
    this.watcher.onEvent((e) => this.apply(e.type, e.object));
  }

  async start(): Promise<void> {
    this.watcher.start();
    await this.watcher.synced();
    this.synced = true;
    this.cfg.logger.info({ event: 'endpoints_synced', source: 'kubernetes', meshed_ips: this.byIp.size }, 'pod watch synced');
    this.emit('all'); // ready now: every waiting Watch gets its first answer
  }

  async stop(): Promise<void> {
    await this.watcher.stop();
  }

  ready(): boolean {
    return this.synced;
  }

  lookup(address: string, port: number): Endpoint | null {
    const e = this.byIp.get(normalizeAddress(address));
    return e ? { address, port, meshed: true, identity: e.identity, spiffeId: e.spiffeId, source: 'kubernetes', workload: e.workload } : null;
  }

  onChange(listener: (change: EndpointChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private apply(type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: PodObject): void {
    const uid = pod.metadata?.uid ?? `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const changed = new Set<string>(this.ipsByPod.get(uid) ?? []);
    for (const ip of this.ipsByPod.get(uid) ?? []) this.byIp.delete(ip);
    this.ipsByPod.delete(uid);
    const ep = type === 'DELETED' ? null : this.endpointOf(pod);
    if (ep) {
      const ips = podIps(pod);
      for (const ip of ips) {
        this.byIp.set(ip, ep);
        changed.add(ip);
      }
      this.ipsByPod.set(uid, ips);
    }
    if (changed.size) this.emit(changed);
  }

  private emit(change: EndpointChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (e) {
        this.cfg.logger.warn({ event: 'endpoints_listener_failed', reason: (e as Error).message }, 'an endpoints listener threw');
      }
    }
  }

  private endpointOf(pod: PodObject): PodEndpoint | null {
    const ns = pod.metadata?.namespace ?? '';
    const sa = pod.spec?.serviceAccountName || 'default';
    if (pod.metadata?.deletionTimestamp || pod.spec?.hostNetwork) return null;
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return null;
    if (!isMeshedPod(pod)) return null;
    if (!isDnsLabel(ns) || !isDnsLabel(sa)) return null;
    const ref = { namespace: ns, serviceAccount: sa };
    return { identity: this.cfg.trustDomain.identity(ref), spiffeId: this.cfg.trustDomain.spiffeId(ref), workload: `${ns}/${pod.metadata?.name ?? ''}` };
  }
}

function podIps(pod: PodObject): string[] {
  const ips = new Set<string>();
  if (pod.status?.podIP) ips.add(normalizeAddress(pod.status.podIP));
  for (const p of pod.status?.podIPs ?? []) if (p.ip) ips.add(normalizeAddress(p.ip));
  return [...ips];
}
