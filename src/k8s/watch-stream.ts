/**
 * One watch request: GET <path>?watch=true&..., read newline-delimited JSON events until
 * the server ends the stream, the connection fails, or we close it.
 *
 * Why not the library's `Watch`: in @kubernetes/client-node 1.4 its request cannot be
 * aborted before the response headers arrive (the AbortController is returned only after
 * fetch resolves), and its timeout signal is overwritten, so a hung API server hangs the
 * watch forever (kubernetes-client/javascript#2665; 2.x instead aborts healthy watches
 * after 30 s, #3020). This keeps the library's kubeconfig handling (CA, client certs,
 * bearer/exec/token-file auth, proxies via `applyToHTTPSOptions`) and adds a connect
 * deadline and an inactivity deadline. A line that is not JSON ends the stream with an
 * error instead of being skipped: a lost event would leave the caller's cache wrong.
 */
import type * as http from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { K8sError, toK8sError } from './errors.js';
import { errorOf, openGet, type Query } from './raw-request.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';

export interface WatchEvent {
  type: WatchEventType;
  /** The object, or a metav1.Status for ERROR. */
  object: Record<string, unknown>;
}

export interface WatchStreamConfig {
  /** e.g. `/api/v1/namespaces/default/pods`. */
  path: string;
  /** Query parameters besides watch=true (resourceVersion, timeoutSeconds, allowWatchBookmarks...). */
  query?: Query;
  /** Called for each event, in order. If it throws, the stream ends with ERR_K8S_ABORTED. */
  onEvent: (event: WatchEvent) => void;
  /** Time allowed for the response headers, in ms. Default 5000. */
  connectTimeoutMs?: number;
  /** Longest silence tolerated once streaming, in ms; then the stream is failed. Default 330000. */
  idleTimeoutMs?: number;
  /** Closes the stream; `done` then resolves with ERR_K8S_ABORTED. */
  signal?: AbortSignal;
}

export interface WatchStream {
  /** Settles once, when the stream ends: null for a clean end by the server, else why it failed. */
  readonly done: Promise<K8sError | null>;
  close(): void;
}

/** A single line may not grow past this; a real object is at most ~1.5 MiB. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** Opens the watch; resolves when the server has answered 200, rejects with a K8sError otherwise. */
export async function openWatchStream(kc: KubeConfig, cfg: WatchStreamConfig): Promise<WatchStream> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new K8sError('ERR_K8S_CONFIG', 'kubeConfig has no current cluster');
  const what = `watch ${cfg.path}`;
  const ctl = new AbortController();
  const onCallerAbort = (): void => ctl.abort(new K8sError('ERR_K8S_ABORTED', `${what}: closed`));
  if (cfg.signal?.aborted) onCallerAbort();
  cfg.signal?.addEventListener('abort', onCallerAbort, { once: true });
  const connectTimeoutMs = cfg.connectTimeoutMs ?? 5000;
  const connectTimer = setTimeout(
    () => ctl.abort(new K8sError('ERR_K8S_TIMEOUT', `${what}: no answer from the Kubernetes API server at ${server} within ${connectTimeoutMs} ms`)),
    connectTimeoutMs,
  );
  let res: http.IncomingMessage;
  try {
    res = await openGet(kc, cfg.path, { ...cfg.query, watch: true }, ctl.signal);
    if (res.statusCode !== 200) {
      const err = await errorOf(res, what, server);
      ctl.abort(err);
      throw err;
    }
  } catch (err) {
    cfg.signal?.removeEventListener('abort', onCallerAbort);
    throw toK8sError(err, what, server);
  } finally {
    clearTimeout(connectTimer);
  }
  const done = new EventReader(res, ctl, cfg, what, server).done.finally(() => cfg.signal?.removeEventListener('abort', onCallerAbort));
  return { done, close: onCallerAbort };
}

/** Splits the body into lines, decodes each as an event, and settles `done` exactly once. */
class EventReader {
  readonly done: Promise<K8sError | null>;
  private resolve!: (err: K8sError | null) => void;
  private settled = false;
  private ended = false;
  private pending = '';
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly idleMs: number;
  private readonly onAbort = (): void => this.finish(this.ctl.signal.reason as K8sError);

  constructor(
    private readonly res: http.IncomingMessage,
    private readonly ctl: AbortController,
    private readonly cfg: WatchStreamConfig,
    private readonly what: string,
    server: string,
  ) {
    this.done = new Promise((r) => (this.resolve = r));
    this.idleMs = cfg.idleTimeoutMs ?? 330_000;
    ctl.signal.addEventListener('abort', this.onAbort, { once: true });
    this.armIdle();
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => this.onData(chunk));
    res.on('end', () => {
      this.ended = true;
      if (this.pending.trim().length > 0) this.deliver(this.pending.trim());
      this.finish(null);
    });
    res.on('error', (err) => this.finish(toK8sError(err, what, server)));
    // A close without 'end' is a connection lost mid-stream: events may be missing.
    res.on('close', () => this.finish(this.ended ? null : new K8sError('ERR_K8S_UNREACHABLE', `${what}: the connection to ${server} closed mid-stream`)));
  }

  private onData(chunk: string): void {
    this.armIdle();
    this.pending += chunk;
    let nl: number;
    while (!this.settled && (nl = this.pending.indexOf('\n')) >= 0) {
      const line = this.pending.slice(0, nl).trim();
      this.pending = this.pending.slice(nl + 1);
      if (line.length > 0) this.deliver(line);
    }
    if (this.pending.length > MAX_LINE_BYTES) this.finish(this.malformed(`an event line exceeds ${MAX_LINE_BYTES} bytes`));
  }

  private deliver(line: string): void {
    let event: WatchEvent;
    try {
      event = JSON.parse(line) as WatchEvent;
    } catch {
      return this.finish(this.malformed(`an event is not JSON: ${line.slice(0, 80)}`));
    }
    if (!event || typeof event.type !== 'string' || !event.object || typeof event.object !== 'object') {
      return this.finish(this.malformed(`an event has no type or object: ${line.slice(0, 80)}`));
    }
    try {
      this.cfg.onEvent(event);
    } catch (err) {
      this.finish(new K8sError('ERR_K8S_ABORTED', `${this.what}: the event handler threw: ${(err as Error).message}`));
    }
  }

  private armIdle(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.finish(new K8sError('ERR_K8S_TIMEOUT', `${this.what}: no data for ${this.idleMs} ms`)), this.idleMs);
  }

  private malformed(detail: string): K8sError {
    return new K8sError('ERR_K8S_MALFORMED', `${this.what}: ${detail}`);
  }

  /** The first outcome wins; an abort by us (close, deadline) wins over the socket errors it causes. */
  private finish(err: K8sError | null): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.idleTimer);
    this.ctl.signal.removeEventListener('abort', this.onAbort);
    if (!this.res.destroyed) this.res.destroy();
    this.resolve(this.ctl.signal.aborted && err !== null ? (this.ctl.signal.reason as K8sError) : err);
  }
}
