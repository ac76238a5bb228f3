/**
 * The one way Lanyard calls the Kubernetes API: every call goes through `call`, which
 * waits for the client-side rate limiter, enforces a deadline (aborting the socket, not
 * just giving up on it), retries a 429 while the deadline allows, and turns whatever
 * failed into a K8sError with a stable code.
 *
 * The deadline covers the limiter wait, the request and the retries together: the caller
 * (a Certify RPC) wants an answer, or ERR_K8S_TIMEOUT, within `timeoutMs`, whatever
 * happens underneath.
 */
import {
  Observable,
  type ApiConstructor,
  type ApiType,
  type ConfigurationOptions,
  type KubeConfig,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
} from '@kubernetes/client-node';
import { anySignal, raceAbort, sleep } from './abort.js';
import { K8sError, toK8sError } from './errors.js';
import { TokenBucketRateLimiter } from './rate-limiter.js';

export interface K8sClientConfig {
  /** Where the API server is and how we authenticate (see loadKubeConfig). Required. */
  kubeConfig: KubeConfig;
  /** Deadline of one call, in ms: limiter wait + request + 429 retries. Default 5000. */
  timeoutMs?: number;
  /** Client-side rate limit, requests per second. Default 20. */
  qps?: number;
  /** Client-side burst. Default 40. */
  burst?: number;
  /** Retries of a call the API server answered 429 (Too Many Requests). Default 3. */
  throttleRetries?: number;
}

export interface CallOptions {
  /** Abort the call; it rejects with ERR_K8S_ABORTED (or the signal's K8sError reason). */
  signal?: AbortSignal;
  /** Overrides the client's `timeoutMs` for this call. */
  timeoutMs?: number;
}

/** What `call` hands to a generated-client method as its per-call options. */
export type RequestOptions = ConfigurationOptions<ObservableMiddleware>;

/** One attempt of a call; `signal` aborts when the deadline passes or the call is abandoned. */
export type CallFn<T> = (options: RequestOptions, signal: AbortSignal) => Promise<T>;

export class K8sClient {
  readonly kubeConfig: KubeConfig;
  readonly server: string;
  readonly timeoutMs: number;
  readonly limiter: TokenBucketRateLimiter;
  private readonly throttleRetries: number;
  private readonly closed = new AbortController();
  private readonly apis = new Map<ApiConstructor<ApiType>, ApiType>();

  constructor(cfg: K8sClientConfig) {
    this.kubeConfig = cfg.kubeConfig;
    const cluster = cfg.kubeConfig.getCurrentCluster();
    if (!cluster) throw new K8sError('ERR_K8S_CONFIG', 'kubeConfig has no current cluster');
    this.server = cluster.server;
    this.timeoutMs = cfg.timeoutMs ?? 5000;
    if (!(this.timeoutMs > 0)) throw new Error(`timeoutMs must be a positive number of milliseconds (got ${cfg.timeoutMs})`);
    this.limiter = new TokenBucketRateLimiter({ qps: cfg.qps, burst: cfg.burst });
    this.throttleRetries = cfg.throttleRetries ?? 3;
  }

  /** A generated API client (e.g. AuthenticationV1Api) bound to this cluster, made once. */
  api<T extends ApiType>(ctor: ApiConstructor<T>): T {
    let api = this.apis.get(ctor);
    if (!api) {
      api = this.kubeConfig.makeApiClient(ctor);
      this.apis.set(ctor, api);
    }
    return api as T;
  }

  /**
   * Runs one API call under the limiter, the deadline and the 429 retry policy.
   * @param what names the call in error messages, e.g. `create tokenreviews`
   * @param fn calls the generated client, passing `options` through as its last argument
   *   (or, for a hand-made request, aborts it on `signal`)
   */
  async call<T>(what: string, fn: CallFn<T>, opts: CallOptions = {}): Promise<T> {
    const timeoutMs = opts.timeoutMs ?? this.timeoutMs;
    const deadline = Date.now() + timeoutMs;
    const timeout = new AbortController();
    const timer = setTimeout(
      () => timeout.abort(new K8sError('ERR_K8S_TIMEOUT', `${what}: no answer from the Kubernetes API server at ${this.server} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const caller = opts.signal ? abortedAs(opts.signal, `${what}: aborted`) : undefined;
    const { signal, dispose } = anySignal([timeout.signal, this.closed.signal, caller?.signal]);
    try {
      return await raceAbort(this.attempts(what, fn, signal, deadline), signal);
    } catch (err) {
      throw toK8sError(err, what, this.server);
    } finally {
      clearTimeout(timer);
      dispose();
      caller?.dispose();
    }
  }

  /** Waits for the limiter like `call` does; for requests made outside the generated client (watches). */
  async acquire(what: string, opts: CallOptions = {}): Promise<void> {
    const { signal, dispose } = anySignal([this.closed.signal, opts.signal]);
    try {
      await this.limiter.acquire({ signal, deadline: Date.now() + (opts.timeoutMs ?? this.timeoutMs) });
    } catch (err) {
      throw toK8sError(err, what, this.server);
    } finally {
      dispose();
    }
  }

  /** The signal that aborts when the client is closed. */
  get closedSignal(): AbortSignal {
    return this.closed.signal;
  }

  /** Aborts every call in flight (they reject with ERR_K8S_ABORTED) and refuses new ones. */
  close(): void {
    this.closed.abort(new K8sError('ERR_K8S_ABORTED', 'the Kubernetes client was closed'));
  }

  private async attempts<T>(what: string, fn: CallFn<T>, signal: AbortSignal, deadline: number): Promise<T> {
    const options: RequestOptions = { middleware: [signalMiddleware(signal)], middlewareMergeStrategy: 'append' };
    for (let attempt = 0; ; attempt++) {
      await this.limiter.acquire({ signal, deadline });
      try {
        return await fn(options, signal);
      } catch (err) {
        if (signal.aborted) throw signal.reason;
        const e = toK8sError(err, what, this.server);
        if (e.status !== 429 || attempt >= this.throttleRetries) throw e;
        // Honour Retry-After; without one, back off 100, 200, 400 ms...
        const delay = Math.min(e.retryAfterMs ?? 100 * 2 ** attempt, 10_000);
        if (Date.now() + delay >= deadline) throw e;
        await sleep(delay, signal);
      }
    }
  }
}

/** Puts our AbortSignal on the request, so a deadline tears down the socket. */
function signalMiddleware(signal: AbortSignal): ObservableMiddleware {
  return {
    pre: (ctx: RequestContext) => {
      ctx.setSignal(signal);
      return new Observable(Promise.resolve(ctx));
    },
    post: (res: ResponseContext) => new Observable(Promise.resolve(res)),
  };
}

/** Re-labels a caller's abort as ERR_K8S_ABORTED unless it already carries a K8sError. */
function abortedAs(signal: AbortSignal, message: string): { signal: AbortSignal; dispose: () => void } {
  const ctl = new AbortController();
  const relay = (): void => ctl.abort(signal.reason instanceof K8sError ? signal.reason : new K8sError('ERR_K8S_ABORTED', message));
  if (signal.aborted) relay();
  else signal.addEventListener('abort', relay, { once: true });
  return { signal: ctl.signal, dispose: () => signal.removeEventListener('abort', relay) };
}
