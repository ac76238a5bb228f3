/**
 * Whether a pod runs Lanyard's proxy: the rule discovery and `lanyard check` share. A pod is
 * meshed when injection annotated it (`lanyard.io/proxy-version`) or when it has a container
 * named `lanyard-proxy`, either a regular one or a native sidecar (an init container with
 * `restartPolicy: Always`).
 */
import { parseAddress } from '../util/address.js';
import { BUNDLE_FINGERPRINT_ANNOTATION, PORTS, PROXY_CONTAINER, PROXY_VERSION_ANNOTATION } from './mesh-names.js';

export interface PodLike {
  metadata?: { annotations?: Record<string, string> };
  spec?: { containers?: unknown; initContainers?: unknown; [k: string]: unknown };
}

type C = { name?: string; restartPolicy?: string };

export function isMeshedPod(pod: PodLike): boolean {
  if (typeof pod.metadata?.annotations?.[PROXY_VERSION_ANNOTATION] === 'string') return true;
  const containers = (Array.isArray(pod.spec?.containers) ? pod.spec.containers : []) as C[];
  const inits = (Array.isArray(pod.spec?.initContainers) ? pod.spec.initContainers : []) as C[];
  return containers.some((c) => c?.name === PROXY_CONTAINER) || inits.some((c) => c?.name === PROXY_CONTAINER && c.restartPolicy === 'Always');
}

/** The trust-bundle fingerprint a pod was injected under, or null if it records none. */
export function podBundleFingerprint(pod: PodLike): string | null {
  return pod.metadata?.annotations?.[BUNDLE_FINGERPRINT_ANNOTATION] ?? null;
}

interface ProxyContainer {
  name?: string;
  ports?: { name?: string; containerPort?: number }[];
  env?: { name?: string; value?: string }[];
}

/**
 * Where a meshed pod's proxy serves its admin port, as `lanyard check`, `certs rotate`,
 * `edges`, `tap` and `dashboard` reach it: the proxy container's `lanyard-admin` port (as
 * `lanyard inject` names it), else the port of its LANYARD_PROXY_ADMIN_ADDR, else 4191.
 */
export function proxyAdminPort(pod: PodLike): number {
  const all = [pod.spec?.containers, pod.spec?.initContainers].flatMap((l) => (Array.isArray(l) ? (l as ProxyContainer[]) : []));
  const proxy = all.find((c) => c?.name === PROXY_CONTAINER);
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
