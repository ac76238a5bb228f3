/**
 * Injection and uninjection of one pod template (a Pod, or the `template` of a workload), as
 * JSON Patch ops relative to it. Pure: the webhook returns the ops, `lanyard inject`
 * applies them to YAML nodes, so both paths make exactly the same change.
 *
 * A template that was injected before is uninjected and injected again, so re-injecting
 * with new values updates it and re-injecting with the same values changes nothing.
 */
import type { InjectConfig } from './inject-config.js';
import { applyPatch, escapeToken, type PatchOp } from './json-patch.js';
import { BUNDLE_FINGERPRINT_ANNOTATION, FOREIGN_PROXY_CONTAINERS, INIT_CONTAINER, INJECT_ANNOTATION, PROXY_CONTAINER, PROXY_VERSION_ANNOTATION } from './mesh-names.js';
import { initContainer, proxyContainer, SIDECAR_VOLUME_NAMES, sidecarVolumes } from './sidecar-spec.js';
import { injectedProbes, restoreProbes, rewriteProbes } from './app-probes.js';
import { skipPortsOf, type SkipPorts } from './skip-ports.js';

type Named = { name?: string; [k: string]: unknown };
export interface PodTemplate {
  metadata?: { annotations?: Record<string, string>; [k: string]: unknown };
  spec?: { containers?: Named[]; initContainers?: Named[]; volumes?: Named[]; hostNetwork?: boolean; [k: string]: unknown };
  [k: string]: unknown;
}

export type InjectDecision =
  | { action: 'inject'; ops: PatchOp[]; update: boolean }
  | { action: 'unchanged'; reason: string }
  | { action: 'skip'; reason: string }
  /** The pod asks for something injection cannot do (a malformed annotation): neither mesh it wrongly nor pass it unmeshed. */
  | { action: 'refuse'; reason: string };

const OUR_ANNOTATIONS = [PROXY_VERSION_ANNOTATION, BUNDLE_FINGERPRINT_ANNOTATION];

/** Why a template must not be injected, or null. `owner` is the workload's own metadata. */
export function skipReason(t: PodTemplate, owner?: PodTemplate['metadata']): string | null {
  if (!t.spec || !Array.isArray(t.spec.containers)) return 'no pod spec with containers';
  for (const [where, meta] of [[owner ? 'pod template' : 'pod', t.metadata], ['workload', owner]] as const) {
    if (meta?.annotations?.[INJECT_ANNOTATION] === 'disabled') return `annotation ${INJECT_ANNOTATION}: disabled on the ${where}`;
  }
  if (t.spec.hostNetwork === true) return "hostNetwork: true (the proxy's iptables rules would capture the node's traffic)";
  const all = [...(t.spec.initContainers ?? []), ...t.spec.containers];
  const foreign = all.find((c) => FOREIGN_PROXY_CONTAINERS.includes(c.name ?? ''));
  if (foreign) return `already has a sidecar proxy (container ${foreign.name})`;
  if (!isInjected(t) && all.some((c) => c.name === PROXY_CONTAINER || c.name === INIT_CONTAINER)) {
    return `already has a container named ${PROXY_CONTAINER} or ${INIT_CONTAINER} that injection did not add`;
  }
  return null;
}

/** Injected by Lanyard: the proxy-version annotation is there. */
export function isInjected(t: PodTemplate): boolean {
  return typeof t.metadata?.annotations?.[PROXY_VERSION_ANNOTATION] === 'string';
}

export function planInjection(t: PodTemplate, cfg: InjectConfig, owner?: PodTemplate['metadata']): InjectDecision {
  const reason = skipReason(t, owner);
  if (reason) return { action: 'skip', reason };
  const skip = skipPortsOf(t.metadata?.annotations);
  if ('error' in skip) return { action: 'refuse', reason: skip.error };
  if (!isInjected(t)) return { action: 'inject', ops: injectOps(t, cfg, skip), update: false };
  const undo = planUninjection(t);
  const base = applyPatch(t, undo);
  const redo = injectOps(base, cfg, skip);
  if (sameJson(applyPatch(base, redo), t)) return { action: 'unchanged', reason: 'already injected with these values' };
  return { action: 'inject', ops: [...undo, ...redo], update: true };
}

function injectOps(t: PodTemplate, cfg: InjectConfig, skip: SkipPorts): PatchOp[] {
  const spec = t.spec!;
  const annotations: Record<string, string> = { [PROXY_VERSION_ANNOTATION]: cfg.proxyVersion };
  if (cfg.bundleFingerprint) annotations[BUNDLE_FINGERPRINT_ANNOTATION] = cfg.bundleFingerprint;
  const ops: PatchOp[] = [];
  if (!t.metadata) ops.push({ op: 'add', path: '/metadata', value: { annotations } });
  else if (!t.metadata.annotations) ops.push({ op: 'add', path: '/metadata/annotations', value: annotations });
  else for (const [k, v] of Object.entries(annotations)) ops.push({ op: 'add', path: `/metadata/annotations/${escapeToken(k)}`, value: v });

  // The kubelet's probes go to the proxy's admin port, which runs them (app-probes.ts).
  const probes = rewriteProbes(spec.containers ?? []);
  ops.push(...probes.ops);
  const proxy = proxyContainer(cfg, probes.probes);
  // lanyard-init goes first, so that the app's own init containers already run meshed.
  const init = initContainer(cfg, skip);
  const inits = cfg.nativeSidecar ? [init, proxy] : [init];
  if (!spec.initContainers) ops.push({ op: 'add', path: '/spec/initContainers', value: inits });
  else inits.forEach((c, i) => ops.push({ op: 'add', path: `/spec/initContainers/${i}`, value: c }));
  // Last, so that `kubectl logs` and `kubectl exec` still default to the app's container.
  if (!cfg.nativeSidecar) ops.push({ op: 'add', path: '/spec/containers/-', value: proxy });

  const volumes = sidecarVolumes(cfg);
  if (!spec.volumes) ops.push({ op: 'add', path: '/spec/volumes', value: volumes });
  else for (const v of volumes) ops.push({ op: 'add', path: '/spec/volumes/-', value: v });
  return ops;
}

/**
 * Removes what injection added; a list or map injection created is removed once empty (an
 * explicitly empty `initContainers: []`, `volumes: []` or `annotations: {}` in the original
 * is therefore not restored).
 */
export function planUninjection(t: PodTemplate): PatchOp[] {
  const containers = t.spec?.containers ?? [];
  const proxy = [...(t.spec?.initContainers ?? []), ...containers].find((c) => c.name === PROXY_CONTAINER);
  // First, while the containers' indices are still those of the template.
  const ops: PatchOp[] = restoreProbes(containers, injectedProbes(proxy));
  const dropNamed = (path: string, list: Named[] | undefined, names: readonly string[]) => {
    if (!list) return;
    const idx = list.map((c, i) => (names.includes(c.name ?? '') ? i : -1)).filter((i) => i >= 0);
    if (!idx.length) return;
    if (idx.length === list.length) return void ops.push({ op: 'remove', path });
    for (const i of idx.reverse()) ops.push({ op: 'remove', path: `${path}/${i}` });
  };
  dropNamed('/spec/initContainers', t.spec?.initContainers, [INIT_CONTAINER, PROXY_CONTAINER]);
  const proxyAt = containers.findIndex((c) => c.name === PROXY_CONTAINER);
  if (proxyAt >= 0 && containers.length > 1) ops.push({ op: 'remove', path: `/spec/containers/${proxyAt}` });
  dropNamed('/spec/volumes', t.spec?.volumes, SIDECAR_VOLUME_NAMES);

  const annotations = t.metadata?.annotations;
  if (annotations) {
    const ours = OUR_ANNOTATIONS.filter((k) => k in annotations);
    if (ours.length && ours.length === Object.keys(annotations).length) {
      ops.push(Object.keys(t.metadata!).length === 1 ? { op: 'remove', path: '/metadata' } : { op: 'remove', path: '/metadata/annotations' });
    } else for (const k of ours) ops.push({ op: 'remove', path: `/metadata/annotations/${escapeToken(k)}` });
  }
  return ops;
}

/** Deep equality of JSON values, ignoring the order of object keys. */
export function sameJson(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => sameJson(x, b[i]));
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => k in b && sameJson((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
