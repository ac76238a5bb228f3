/**
 * The fake API server's object store for one resource (Pods): objects, a global
 * resourceVersion counter, and the event history a watch replays from. `compact()` drops
 * the history, as etcd compaction does, so a watch from an older resourceVersion gets
 * 410 Gone, the case list+watch clients must survive.
 */
import { randomUUID } from 'node:crypto';

export type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; uid?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
};
export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface StoredEvent {
  rv: number;
  type: EventType;
  object: Obj;
}

export class FakeObjectStore {
  private readonly objects = new Map<string, Obj>();
  private history: StoredEvent[] = [];
  private rv = 100;
  /** Watches from a resourceVersion below this get 410 Gone. */
  private oldestWatchable = 100;
  private readonly subscribers = new Set<(e: StoredEvent) => void>();

  constructor(
    readonly apiVersion: string,
    readonly kind: string,
  ) {}

  get resourceVersion(): number {
    return this.rv;
  }

  add(input: Omit<Obj, 'metadata'> & { metadata: { name: string; namespace?: string; [k: string]: unknown } }): Obj {
    const obj = structuredClone(input) as Obj;
    obj.metadata.namespace ??= 'default';
    const key = keyOf(obj);
    if (this.objects.has(key)) throw new Error(`fake store: ${key} already exists`);
    obj.metadata.uid ??= randomUUID();
    obj.metadata.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return this.commit('ADDED', obj);
  }

  modify(namespace: string, name: string, mutate: (o: Obj) => void): Obj {
    const current = this.objects.get(`${namespace}/${name}`);
    if (!current) throw new Error(`fake store: ${namespace}/${name} does not exist`);
    const next = structuredClone(current);
    mutate(next);
    return this.commit('MODIFIED', next);
  }

  delete(namespace: string, name: string): Obj {
    const current = this.objects.get(`${namespace}/${name}`);
    if (!current) throw new Error(`fake store: ${namespace}/${name} does not exist`);
    return this.commit('DELETED', structuredClone(current));
  }

  get(namespace: string, name: string): Obj | undefined {
    return this.objects.get(`${namespace}/${name}`);
  }

  list(filter: (o: Obj) => boolean = () => true): Obj[] {
    return [...this.objects.values()].filter(filter).map((o) => structuredClone(o));
  }

  /** Events after `rv`, or null if some of them were compacted away. */
  since(rv: number): StoredEvent[] | null {
    if (rv < this.oldestWatchable) return null;
    return this.history.filter((e) => e.rv > rv);
  }

  compact(): void {
    this.history = [];
    this.oldestWatchable = this.rv;
  }

  subscribe(fn: (e: StoredEvent) => void): () => void {
    this.subscribers.add(fn);
    return () => this.subscribers.delete(fn);
  }

  /** The object as a watch event carries it: with kind and apiVersion, unlike list items. */
  typed(o: Obj): Obj {
    return { apiVersion: this.apiVersion, kind: this.kind, ...structuredClone(o) };
  }

  private commit(type: EventType, obj: Obj): Obj {
    this.rv++;
    obj.metadata.resourceVersion = String(this.rv);
    const key = keyOf(obj);
    if (type === 'DELETED') this.objects.delete(key);
    else this.objects.set(key, obj);
    const event = { rv: this.rv, type, object: structuredClone(obj) };
    this.history.push(event);
    for (const s of this.subscribers) s(event);
    return structuredClone(obj);
  }
}

function keyOf(o: Obj): string {
  return `${o.metadata.namespace}/${o.metadata.name}`;
}
