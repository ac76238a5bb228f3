/**
 * Keeps a local copy of a collection (e.g. all Pods) in step with the API server, the way
 * client-go's reflector does: list, then watch from the list's resourceVersion.
 *
 * - A watch the server ends normally (its timeoutSeconds ran out) is resumed from the last
 *   resourceVersion seen (events and bookmarks both advance it), without a new list.
 * - 410 Gone (the resourceVersion was compacted away), an ERROR event, a malformed line, or
 *   a failed connection means events may have been missed: the watcher lists again and
 *   reports the difference as ADDED / MODIFIED / DELETED, so listeners never need to know a
 *   relist happened.
 * - Retries back off (doubling, with jitter) unless the last watch was healthy, so a broken
 *   API server is not hammered and a routine 410 is repaired at once.
 *
 * Listeners are called synchronously, in event order; one that throws is logged and skipped.
 */
import type { Logger } from '../telemetry/logger.js';
import { sleep } from './abort.js';
import { K8sError, statusBodyOf } from './errors.js';
import type { K8sClient } from './k8s-client.js';
import { getJson, type Query } from './raw-request.js';
import { openWatchStream, type WatchEvent } from './watch-stream.js';

/** The part of any Kubernetes object the watcher relies on. */
export interface KubeObject {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; uid?: string };
}

export interface KubeList<T> {
  metadata?: { resourceVersion?: string };
  items?: T[];
}

export type ListWatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';
export interface ListWatchEvent<T> {
  type: ListWatchEventType;
  object: T;
}

export interface ListWatcherConfig {
  client: K8sClient;
  /** The collection path, e.g. `/api/v1/pods` or `/api/v1/namespaces/default/pods`. Required. */
  path: string;
  /** Sent with both list and watch, e.g. `{ labelSelector: 'app=web' }`. Default none. */
  query?: Query;
  /** Deadline of one list, in ms; a big cluster's Pod list takes a while. Default 60000. */
  listTimeoutMs?: number;
  /** Server-side watch duration, in s; the watcher then resumes. Default 300 (client-go: 300–600). */
  watchTimeoutSeconds?: number;
  /** First retry delay, in ms; doubles per consecutive failure. Default 200. */
  backoffInitialMs?: number;
  /** Longest retry delay, in ms. Default 30000. */
  backoffMaxMs?: number;
  /** A watch that delivered an event, or lived this long, counts as healthy. Default 1000 ms. */
  healthyAfterMs?: number;
  /** Default: none (silent). */
  logger?: Logger;
}

type Outcome = { relist: boolean; healthy: boolean; reason?: string };

export class ListWatcher<T extends KubeObject = KubeObject> {
  /** Lists and watches made so far; tests and /metrics read these. */
  readonly stats = { lists: 0, watches: 0, relistsAfterGone: 0 };
  private readonly store = new Map<string, T>();
  private readonly listeners = new Set<(e: ListWatchEvent<T>) => void>();
  private readonly stopCtl = new AbortController();
  private resourceVersion = '';
  private loop: Promise<void> | null = null;
  private syncedResolve!: () => void;
  private readonly syncedPromise = new Promise<void>((r) => (this.syncedResolve = r));

  constructor(private readonly cfg: ListWatcherConfig) {}

  /** Subscribes to changes; returns the unsubscribe function. */
  onEvent(listener: (e: ListWatchEvent<T>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Resolves after the first successful list (never rejects; stop() to give up waiting). */
  synced(): Promise<void> {
    return this.syncedPromise;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(keyOf(namespace, name));
  }

  items(): T[] {
    return [...this.store.values()];
  }

  /** The last resourceVersion seen ('' before the first list). */
  get lastResourceVersion(): string {
    return this.resourceVersion;
  }

  /** Ends the watch, aborts any list or wait in progress, and resolves once the loop is done. */
  async stop(): Promise<void> {
    this.stopCtl.abort(new K8sError('ERR_K8S_ABORTED', `list-watch ${this.cfg.path}: stopped`));
    await this.loop;
  }

  private get stopped(): boolean {
    return this.stopCtl.signal.aborted;
  }

  private async run(): Promise<void> {
    const initial = this.cfg.backoffInitialMs ?? 200;
    let delay = initial;
    let needList = true;
    while (!this.stopped) {
      let outcome: Outcome;
      try {
        if (needList) await this.relist();
        outcome = await this.watchOnce();
      } catch (err) {
        outcome = { relist: true, healthy: false, reason: (err as Error).message };
      }
      if (this.stopped) break;
      needList = outcome.relist;
      if (outcome.reason) this.cfg.logger?.warn({ path: this.cfg.path, relist: needList, reason: outcome.reason }, 'list-watch interrupted');
      if (outcome.healthy) {
        delay = initial;
        continue;
      }
      const jittered = delay * (0.5 + Math.random() / 2);
      delay = Math.min(delay * 2, this.cfg.backoffMaxMs ?? 30_000);
      await sleep(jittered, this.stopCtl.signal).catch(() => undefined);
    }
  }

  private async relist(): Promise<void> {
    const list = await getJson<KubeList<T>>(this.cfg.client, this.cfg.path, { ...this.cfg.query }, {
      signal: this.stopCtl.signal,
      timeoutMs: this.cfg.listTimeoutMs ?? 60_000,
    });
    const rv = list?.metadata?.resourceVersion;
    if (!rv || !Array.isArray(list.items)) {
      throw new K8sError('ERR_K8S_MALFORMED', `list ${this.cfg.path}: the answer has no items or no metadata.resourceVersion`);
    }
    this.stats.lists++;
    const fresh = new Map(list.items.map((o) => [keyOf(o.metadata?.namespace, o.metadata?.name ?? ''), o]));
    for (const [key, old] of this.store) {
      if (!fresh.has(key)) {
        this.store.delete(key);
        this.emit({ type: 'DELETED', object: old });
      }
    }
    for (const [key, obj] of fresh) {
      const old = this.store.get(key);
      this.store.set(key, obj);
      if (!old) this.emit({ type: 'ADDED', object: obj });
      else if (old.metadata?.resourceVersion !== obj.metadata?.resourceVersion) this.emit({ type: 'MODIFIED', object: obj });
    }
    this.resourceVersion = rv;
    this.syncedResolve();
  }

  private async watchOnce(): Promise<Outcome> {
    const { client, path } = this.cfg;
    const timeoutSeconds = this.cfg.watchTimeoutSeconds ?? 300;
    await client.acquire(`watch ${path}`, { signal: this.stopCtl.signal });
    const ours = new AbortController();
    const onStop = (): void => ours.abort();
    this.stopCtl.signal.addEventListener('abort', onStop, { once: true });
    const started = Date.now();
    let delivered = 0;
    let failure: { gone: boolean; reason: string } | undefined;
    try {
      const stream = await openWatchStream(client.kubeConfig, {
        path,
        query: { ...this.cfg.query, resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds },
        connectTimeoutMs: client.timeoutMs,
        // The server ends the stream after timeoutSeconds; silence well past that means a dead connection.
        idleTimeoutMs: (timeoutSeconds + 30) * 1000,
        signal: ours.signal,
        onEvent: (event) => {
          if (failure) return;
          if (event.type === 'ERROR') {
            const status = statusBodyOf(event.object);
            failure = { gone: status?.code === 410, reason: `watch ${path}: ERROR event ${status?.code ?? '?'} ${status?.reason ?? ''}: ${status?.message ?? ''}` };
            ours.abort();
            return;
          }
          delivered++;
          this.apply(event);
        },
      });
      this.stats.watches++;
      const err = await stream.done;
      const healthy = delivered > 0 || Date.now() - started >= (this.cfg.healthyAfterMs ?? 1000);
      if (failure?.gone) this.stats.relistsAfterGone++;
      if (failure) return { relist: true, healthy: healthy && failure.gone, reason: failure.reason };
      if (err) return { relist: true, healthy: false, reason: err.message };
      return { relist: false, healthy };
    } finally {
      this.stopCtl.signal.removeEventListener('abort', onStop);
      ours.abort();
    }
  }

  private apply(event: WatchEvent): void {
    const obj = event.object as T;
    const rv = obj.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (event.type === 'BOOKMARK') return;
    if (event.type !== 'ADDED' && event.type !== 'MODIFIED' && event.type !== 'DELETED') return;
    const key = keyOf(obj.metadata?.namespace, obj.metadata?.name ?? '');
    if (event.type === 'DELETED') this.store.delete(key);
    else this.store.set(key, obj);
    this.emit({ type: event.type, object: obj });
  }

  private emit(e: ListWatchEvent<T>): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.cfg.logger?.error({ path: this.cfg.path, err }, 'list-watch listener threw');
      }
    }
  }
}

function keyOf(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}
