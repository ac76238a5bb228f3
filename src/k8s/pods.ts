/**
 * Pods as the discovery service will watch them: plain JSON as the API server sends it,
 * typed only as far as Lanyard reads it (which service account a pod runs as, its IPs,
 * whether it is meshed).
 */
import type { K8sClient } from './k8s-client.js';
import { ListWatcher, type ListWatcherConfig } from './list-watcher.js';

export interface PodObject {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec?: { serviceAccountName?: string; nodeName?: string; hostNetwork?: boolean; [field: string]: unknown };
  status?: { phase?: string; podIP?: string; podIPs?: { ip: string }[]; [field: string]: unknown };
}

/** `/api/v1/pods`, or `/api/v1/namespaces/<ns>/pods` for one namespace. */
export function podsPath(namespace?: string): string {
  return namespace ? `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods` : '/api/v1/pods';
}

export interface PodWatchConfig extends Omit<ListWatcherConfig, 'client' | 'path' | 'query'> {
  /** Watch one namespace. Default: all namespaces. */
  namespace?: string;
  /** e.g. `linkerd.io/control-plane-ns=lanyard`. Default: all pods. */
  labelSelector?: string;
  /** e.g. `spec.nodeName=node-1`. Default: none. */
  fieldSelector?: string;
}

/** A ListWatcher of Pods; call start() on it. */
export function createPodWatcher(client: K8sClient, cfg: PodWatchConfig = {}): ListWatcher<PodObject> {
  const { namespace, labelSelector, fieldSelector, ...rest } = cfg;
  return new ListWatcher<PodObject>({ ...rest, client, path: podsPath(namespace), query: { labelSelector, fieldSelector } });
}
