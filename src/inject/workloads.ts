/**
 * Where the pod template of each kind of workload lives, and how to name a workload in a
 * note. Kinds without a pod template (Services, ConfigMaps, ...) pass through untouched.
 */

type Obj = { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown; namespace?: unknown }; items?: unknown; [k: string]: unknown };

const TEMPLATE_PATHS: Record<string, readonly string[]> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

export const WORKLOAD_KINDS = Object.keys(TEMPLATE_PATHS);

/** The path of the object's pod template, or null if it has none. */
export function podTemplatePath(obj: unknown): readonly string[] | null {
  if (!isObject(obj) || typeof obj.kind !== 'string') return null;
  return TEMPLATE_PATHS[obj.kind] ?? null;
}

/** `kind: List` (or any `*List` with items), as `kubectl get -o yaml` prints several objects. */
export function isList(obj: unknown): obj is Obj & { items: unknown[] } {
  return isObject(obj) && typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray(obj.items);
}

/** `Deployment shop/web`, `Pod web` (no namespace given). */
export function describeObject(obj: unknown): string {
  if (!isObject(obj)) return 'object';
  const ns = typeof obj.metadata?.namespace === 'string' ? `${obj.metadata.namespace}/` : '';
  const name = typeof obj.metadata?.name === 'string' ? obj.metadata.name : '(unnamed)';
  return `${typeof obj.kind === 'string' ? obj.kind : 'object'} ${ns}${name}`;
}

export function getPath(obj: unknown, path: readonly (string | number)[]): unknown {
  let node = obj;
  for (const p of path) node = isObject(node) || Array.isArray(node) ? (node as Record<string, unknown>)[p] : undefined;
  return node;
}

export function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
