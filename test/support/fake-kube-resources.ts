/**
 * The fake API server's generic resources, for applying manifests through
 * @kubernetes/client-node (KubernetesObjectApi): API discovery (`GET /api/v1`,
 * `GET /apis/<group>/<version>` → APIResourceList), create (POST, 201; 409 if it exists;
 * 404 if its namespace does not exist, as the real server answers), get (GET by name,
 * 404 if absent), list, and replace (PUT: 409 Conflict when the body's resourceVersion is
 * not the stored one, the API server's optimistic concurrency) for the kinds Lanyard's
 * manifests and sample workloads use. Secrets' `stringData` is folded into `data`, as the
 * real server does. `onNextReplace` lets a test change an object between a client's read
 * and its replace, to make that replace conflict for real.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { json, readJson, status } from './fake-kube-http.js';

interface Kind {
  kind: string;
  name: string;
  namespaced: boolean;
}

const GROUPS: Record<string, Kind[]> = {
  v1: [
    { kind: 'Namespace', name: 'namespaces', namespaced: false },
    { kind: 'ServiceAccount', name: 'serviceaccounts', namespaced: true },
    { kind: 'Secret', name: 'secrets', namespaced: true },
    { kind: 'ConfigMap', name: 'configmaps', namespaced: true },
    { kind: 'Service', name: 'services', namespaced: true },
    { kind: 'Pod', name: 'pods', namespaced: true },
  ],
  'apps/v1': [
    { kind: 'Deployment', name: 'deployments', namespaced: true },
    { kind: 'StatefulSet', name: 'statefulsets', namespaced: true },
    { kind: 'DaemonSet', name: 'daemonsets', namespaced: true },
    { kind: 'ReplicaSet', name: 'replicasets', namespaced: true },
  ],
  'batch/v1': [
    { kind: 'Job', name: 'jobs', namespaced: true },
    { kind: 'CronJob', name: 'cronjobs', namespaced: true },
  ],
  'policy/v1': [{ kind: 'PodDisruptionBudget', name: 'poddisruptionbudgets', namespaced: true }],
  'rbac.authorization.k8s.io/v1': [
    { kind: 'ClusterRole', name: 'clusterroles', namespaced: false },
    { kind: 'ClusterRoleBinding', name: 'clusterrolebindings', namespaced: false },
  ],
  'admissionregistration.k8s.io/v1': [{ kind: 'MutatingWebhookConfiguration', name: 'mutatingwebhookconfigurations', namespaced: false }],
};

export type StoredObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; [k: string]: unknown }; [k: string]: unknown };

export interface ResourceRoute {
  groupVersion: string;
  /** Discovery of the group version (no resource). */
  discovery?: true;
  kind?: Kind;
  namespace?: string;
  name?: string;
}

/** Parses `/api/v1[/namespaces/NS]/RESOURCE[/NAME]` and `/apis/G/V/...`; null for other paths. */
export function resourceRouteOf(path: string): ResourceRoute | null {
  const m = /^\/(?:api\/(v1)|apis\/([^/]+\/[^/]+))(?:\/(.*))?$/.exec(path);
  if (!m) return null;
  const groupVersion = m[1] ?? m[2];
  const kinds = GROUPS[groupVersion];
  if (!kinds) return null;
  if (!m[3]) return { groupVersion, discovery: true };
  let parts = m[3].split('/').map(decodeURIComponent);
  let namespace: string | undefined;
  if (parts[0] === 'namespaces' && parts.length >= 3) {
    namespace = parts[1];
    parts = parts.slice(2);
  }
  const kind = kinds.find((k) => k.name === parts[0]);
  if (!kind || parts.length > 2) return null;
  return { groupVersion, kind, namespace, name: parts[1] };
}

export class FakeResources {
  /** key `<groupVersion>/<resource>/<namespace>/<name>` → object as stored. */
  private readonly objects = new Map<string, StoredObject>();
  private rv = 1000;
  private readonly beforeReplace: { kind: string; fn: (stored: StoredObject) => void }[] = [];
  /** Every replace answered, by kind: `ok` or `conflict`. */
  readonly replaces: { kind: string; name: string; result: 'ok' | 'conflict' }[] = [];

  private readonly listeners = new Set<(o: StoredObject) => void>();

  /** Calls `fn` with every object stored from now on (created, replaced or put); returns an unsubscribe. */
  onStored(fn: (o: StoredObject) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Runs `fn` on the stored object when the next replace of `kind` arrives, before it is judged. */
  onNextReplace(kind: string, fn: (stored: StoredObject) => void): void {
    this.beforeReplace.push({ kind, fn });
  }

  get(groupVersion: string, resource: string, namespace: string | undefined, name: string): StoredObject | undefined {
    const o = this.objects.get(`${groupVersion}/${resource}/${namespace ?? ''}/${name}`);
    return o && structuredClone(o);
  }

  all(): StoredObject[] {
    return [...this.objects.values()].map((o) => structuredClone(o));
  }

  /** Adds an object directly (e.g. a namespace with annotations a test needs). */
  put(obj: StoredObject): StoredObject {
    const [gv, kind] = [obj.apiVersion, GROUPS[obj.apiVersion]?.find((k) => k.kind === obj.kind)];
    if (!kind) throw new Error(`fake resources: unknown kind ${obj.apiVersion} ${obj.kind}`);
    const stored = structuredClone(obj);
    stored.metadata.uid ??= randomUUID();
    stored.metadata.resourceVersion = String(++this.rv);
    stored.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    this.objects.set(`${gv}/${kind.name}/${kind.namespaced ? stored.metadata.namespace : ''}/${stored.metadata.name}`, stored);
    for (const l of this.listeners) l(structuredClone(stored));
    return structuredClone(stored);
  }

  handle(method: string, route: ResourceRoute, req: IncomingMessage, res: ServerResponse): void {
    if (route.discovery) {
      return json(res, 200, {
        kind: 'APIResourceList',
        apiVersion: 'v1',
        groupVersion: route.groupVersion,
        resources: GROUPS[route.groupVersion].map((k) => ({ name: k.name, singularName: k.kind.toLowerCase(), namespaced: k.namespaced, kind: k.kind, verbs: ['create', 'get', 'list', 'update'] })),
      });
    }
    const kind = route.kind!;
    if (method === 'GET' && route.name) {
      const o = this.get(route.groupVersion, kind.name, kind.namespaced ? route.namespace : undefined, route.name);
      return o ? json(res, 200, o) : json(res, 404, status(404, 'NotFound', `${kind.name} "${route.name}" not found`));
    }
    if (method === 'GET') {
      const items = this.all().filter((o) => o.kind === kind.kind && o.apiVersion === route.groupVersion && (!route.namespace || o.metadata.namespace === route.namespace));
      return json(res, 200, { kind: `${kind.kind}List`, apiVersion: route.groupVersion, metadata: { resourceVersion: String(this.rv) }, items });
    }
    const put = method === 'PUT' && route.name;
    if (!put && (method !== 'POST' || route.name)) return json(res, 405, status(405, 'MethodNotAllowed', `${method} is not supported by the fake API server here`));
    readJson(req).then(
      (body) => (put ? this.replace(route, kind, body as StoredObject, res) : this.create(route, kind, body as StoredObject, res)),
      () => json(res, 400, status(400, 'BadRequest', 'the request body is not JSON')),
    );
  }

  private replace(route: ResourceRoute, kind: Kind, body: StoredObject, res: ServerResponse): void {
    const ns = kind.namespaced ? route.namespace : undefined;
    if (body?.kind !== kind.kind || body?.apiVersion !== route.groupVersion || body.metadata?.name !== route.name) {
      return json(res, 400, status(400, 'BadRequest', `the body is ${body?.apiVersion} ${body?.kind} ${body?.metadata?.name}, not ${route.groupVersion} ${kind.kind} ${route.name}`));
    }
    const hook = this.beforeReplace.findIndex((h) => h.kind === kind.kind);
    if (hook >= 0) {
      const [{ fn }] = this.beforeReplace.splice(hook, 1);
      const current = this.get(route.groupVersion, kind.name, ns, route.name!);
      if (current) fn(current);
    }
    const stored = this.get(route.groupVersion, kind.name, ns, route.name!);
    if (!stored) return json(res, 404, status(404, 'NotFound', `${kind.name} "${route.name}" not found`));
    const sent = body.metadata.resourceVersion;
    if (sent !== undefined && sent !== stored.metadata.resourceVersion) {
      this.replaces.push({ kind: kind.kind, name: route.name!, result: 'conflict' });
      const message = `Operation cannot be fulfilled on ${kind.name} "${route.name}": the object has been modified; please apply your changes to the latest version and try again`;
      return json(res, 409, status(409, 'Conflict', message));
    }
    foldStringData(kind, body);
    body.metadata = { ...body.metadata, namespace: stored.metadata.namespace, uid: stored.metadata.uid, creationTimestamp: stored.metadata.creationTimestamp };
    this.replaces.push({ kind: kind.kind, name: route.name!, result: 'ok' });
    json(res, 200, this.put(body));
  }

  private create(route: ResourceRoute, kind: Kind, body: StoredObject, res: ServerResponse): void {
    if (body?.kind !== kind.kind || body?.apiVersion !== route.groupVersion) {
      return json(res, 400, status(400, 'BadRequest', `the body is ${body?.apiVersion} ${body?.kind}, not ${route.groupVersion} ${kind.kind}`));
    }
    const name = body.metadata?.name;
    if (!name) return json(res, 422, status(422, 'Invalid', `${kind.kind} is invalid: metadata.name: Required value`));
    if (kind.namespaced) {
      if (!route.namespace) return json(res, 404, status(404, 'NotFound', `${kind.name} must be created in a namespace`));
      if (body.metadata.namespace && body.metadata.namespace !== route.namespace) {
        return json(res, 400, status(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request'));
      }
      if (!this.get('v1', 'namespaces', undefined, route.namespace)) return json(res, 404, status(404, 'NotFound', `namespaces "${route.namespace}" not found`));
      body.metadata.namespace = route.namespace;
    }
    if (this.get(route.groupVersion, kind.name, kind.namespaced ? route.namespace : undefined, name)) {
      return json(res, 409, status(409, 'AlreadyExists', `${kind.name} "${name}" already exists`));
    }
    foldStringData(kind, body);
    json(res, 201, this.put(body));
  }
}

function foldStringData(kind: Kind, body: StoredObject): void {
  if (kind.kind !== 'Secret' || !body.stringData || typeof body.stringData !== 'object') return;
  const data = { ...((body.data as Record<string, string>) ?? {}) };
  for (const [k, v] of Object.entries(body.stringData as Record<string, string>)) data[k] = Buffer.from(v).toString('base64');
  body.data = data;
  delete body.stringData;
}
