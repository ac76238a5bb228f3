/**
 * Whether a pod runs Lanyard's proxy: the rule discovery and `lanyard check` share. A pod is
 * meshed when injection annotated it (`lanyard.io/proxy-version`) or when it has a container
 * named `lanyard-proxy`, either a regular one or a native sidecar (an init container with
 * `restartPolicy: Always`).
 */
import { BUNDLE_FINGERPRINT_ANNOTATION, PROXY_CONTAINER, PROXY_VERSION_ANNOTATION } from './mesh-names.js';

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
