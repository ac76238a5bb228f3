/**
 * The fake API server's list and watch of Pods, following the real protocol:
 * - list: a PodList whose metadata.resourceVersion is the store's current one;
 * - watch (`?watch=true`): 200 with chunked newline-delimited JSON events
 *   `{"type":"ADDED|MODIFIED|DELETED|BOOKMARK|ERROR","object":{...}}`; from resourceVersion
 *   unset or "0" it first sends the current objects as ADDED; from N it replays the events
 *   after N, or, if they were compacted, sends one ERROR event with a 410 Status and ends;
 *   `timeoutSeconds` ends the stream; `allowWatchBookmarks` enables BOOKMARK events.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FakeObjectStore, Obj, StoredEvent } from './fake-object-store.js';
import { json } from './fake-kube-http.js';

export interface WatchHandle {
  bookmarks: boolean;
  res: ServerResponse;
  send(type: string, object: unknown): void;
  end(abrupt?: boolean): void;
}

export function listPods(store: FakeObjectStore, namespace: string | undefined, params: URLSearchParams, res: ServerResponse): void {
  const items = store.list(matcher(namespace, params));
  json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(store.resourceVersion) }, items });
}

export function watchPods(
  store: FakeObjectStore,
  namespace: string | undefined,
  params: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
  watches: Set<WatchHandle>,
): void {
  const match = matcher(namespace, params);
  const rvParam = params.get('resourceVersion') ?? '';
  res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
  res.flushHeaders();

  let timeout: NodeJS.Timeout | undefined;
  let unsubscribe = (): void => undefined;
  const handle: WatchHandle = {
    bookmarks: params.get('allowWatchBookmarks') === 'true',
    res,
    send: (type, object) => {
      if (!res.writableEnded && !res.destroyed) res.write(JSON.stringify({ type, object }) + '\n');
    },
    end: (abrupt = false) => {
      clearTimeout(timeout);
      unsubscribe();
      watches.delete(handle);
      if (abrupt) res.socket?.destroy();
      else if (!res.writableEnded) res.end();
    },
  };
  watches.add(handle);
  req.on('close', () => handle.end());

  const sendEvent = (e: StoredEvent): void => {
    if (match(e.object)) handle.send(e.type, store.typed(e.object));
  };
  if (rvParam === '' || rvParam === '0') {
    for (const o of store.list(match)) handle.send('ADDED', store.typed(o));
  } else {
    const replay = store.since(Number(rvParam));
    if (replay === null) {
      handle.send('ERROR', {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: `too old resource version: ${rvParam} (${store.resourceVersion})`,
        reason: 'Expired',
        code: 410,
      });
      handle.end();
      return;
    }
    replay.forEach(sendEvent);
  }
  unsubscribe = store.subscribe(sendEvent);
  const timeoutSeconds = Number(params.get('timeoutSeconds') ?? '0');
  if (timeoutSeconds > 0) timeout = setTimeout(() => handle.end(), timeoutSeconds * 1000);
}

export function bookmark(store: FakeObjectStore, handle: WatchHandle): void {
  if (handle.bookmarks) {
    handle.send('BOOKMARK', { kind: store.kind, apiVersion: store.apiVersion, metadata: { resourceVersion: String(store.resourceVersion) } });
  }
}

/** Namespace, `labelSelector` (k=v, k==v, k!=v) and `fieldSelector` (dotted paths, = and !=). */
function matcher(namespace: string | undefined, params: URLSearchParams): (o: Obj) => boolean {
  const labels = terms(params.get('labelSelector'));
  const fields = terms(params.get('fieldSelector'));
  return (o) => {
    if (namespace && o.metadata.namespace !== namespace) return false;
    if (!labels.every(({ key, value, negate }) => (o.metadata.labels?.[key] === value) !== negate)) return false;
    return fields.every(({ key, value, negate }) => (String(dig(o, key) ?? '') === value) !== negate);
  };
}

function terms(selector: string | null): { key: string; value: string; negate: boolean }[] {
  if (!selector) return [];
  return selector.split(',').map((t) => {
    const m = /^([^!=]+)(!=|==|=)(.*)$/.exec(t.trim());
    if (!m) throw new Error(`fake API server: unsupported selector term ${t}`);
    return { key: m[1], value: m[3], negate: m[2] === '!=' };
  });
}

function dig(o: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
}
