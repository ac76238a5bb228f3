/**
 * Pods as `lanyard check` and `lanyard certs rotate` look at them: which are meshed (the
 * rule discovery uses, src/inject/meshed-pod.ts), where a running pod's proxy admin port
 * or a control-plane component's port is (the container port by name, as `lanyard inject`
 * and `lanyard install` name them, else the default), and which pods the webhook leaves
 * alone. Pure.
 */
import { COMPONENT_LABEL, INJECT_ANNOTATION, PORTS, type Component } from '../inject/mesh-names.js';
import { isMeshedPod, podBundleFingerprint, proxyAdminPort } from '../inject/meshed-pod.js';
import type { PodObject } from '../k8s/pods.js';
import { formatAddress } from '../util/address.js';
import type { PodSummary } from './check-cluster.js';

type Container = { name?: string; ports?: { name?: string; containerPort?: number }[] };

const containersOf = (pod: PodObject): Container[] => [
  ...((Array.isArray(pod.spec?.containers) ? pod.spec!.containers : []) as Container[]),
  ...((Array.isArray(pod.spec?.initContainers) ? pod.spec!.initContainers : []) as Container[]),
];

const podName = (pod: PodObject): string => `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? '?'}`;

function runningAt(pod: PodObject, port: number): string | null {
  const ip = pod.status?.podIP;
  if (pod.status?.phase !== 'Running' || !ip || pod.metadata?.deletionTimestamp) return null;
  return formatAddress({ host: ip, port });
}

function namedPort(pod: PodObject, name: string, fallback: number): number {
  for (const c of containersOf(pod)) {
    const p = c.ports?.find((x) => x.name === name && typeof x.containerPort === 'number');
    if (p) return p.containerPort!;
  }
  return fallback;
}

/** A meshed, running pod's proxy admin address (src/inject/meshed-pod.ts proxyAdminPort), or null. */
export function proxyAdminAddress(pod: PodObject): { pod: string; address: string } | null {
  if (!isMeshedPod(pod)) return null;
  const address = runningAt(pod, proxyAdminPort(pod));
  return address ? { pod: podName(pod), address } : null;
}

/** Meshed pods that are not running (yet): they read the current bundle when they start. */
export function pendingMeshedPods(pods: PodObject[]): string[] {
  return pods.filter((p) => isMeshedPod(p) && !proxyAdminAddress(p) && !['Succeeded', 'Failed'].includes(p.status?.phase ?? '')).map(podName);
}

const SERVING: Record<Component, [string, number]> = { identity: ['grpc', PORTS.identity], discovery: ['grpc', PORTS.discovery], injector: ['https', PORTS.injector] };
const ADMIN: Record<Component, number> = { identity: PORTS.identityAdmin, discovery: PORTS.discoveryAdmin, injector: PORTS.injectorAdmin };

/** The serving and admin addresses of a running control-plane pod of `component`, or null. */
export function componentAddresses(pod: PodObject, component: Component): { pod: string; serving: string; admin: string } | null {
  if (pod.metadata?.labels?.[COMPONENT_LABEL] !== component) return null;
  const [portName, port] = SERVING[component];
  const serving = runningAt(pod, namedPort(pod, portName, port));
  const admin = runningAt(pod, namedPort(pod, 'admin', ADMIN[component]));
  return serving && admin ? { pod: podName(pod), serving, admin } : null;
}

export function podSummary(pod: PodObject): PodSummary {
  const phase = pod.status?.phase ?? '';
  return {
    namespace: pod.metadata?.namespace ?? 'default',
    name: pod.metadata?.name ?? '?',
    meshed: isMeshedPod(pod),
    bundleFingerprint: podBundleFingerprint(pod),
    exempt: pod.metadata?.annotations?.[INJECT_ANNOTATION] === 'disabled' || pod.spec?.hostNetwork === true || phase === 'Succeeded' || phase === 'Failed',
  };
}
