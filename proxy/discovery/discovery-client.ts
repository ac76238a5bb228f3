/**
 * The outbound proxy's view of discovery: for each destination it has seen, the current
 * answer (meshed? which identity?), kept fresh by a Watch stream and dropped when unused.
 *
 * Fail closed: with no answer from discovery (unreachable, not synced, too slow), `resolve`
 * rejects, and the outbound proxy refuses the connection instead of sending plaintext where
 * mutual TLS may have been expected. A cached answer stays in use while its stream
 * reconnects.
 */
import { decodeEndpoint, encodeResolveRequest, type EndpointMessage } from '../../src/proto/discovery-codec.js';
import type { Logger } from '../../src/telemetry/logger.js';
import { GrpcChannel, GrpcError, GrpcStatus } from '../grpc/grpc-channel.js';

export const WATCH_PATH = '/lanyard.discovery.v1.Discovery/Watch';

export interface DiscoveryClientConfig {
  /** `host:port` of the discovery service. */
  address: string;
  /** Verify the service over TLS as this identity against these anchors; absent: plaintext. */
  tls?: { serverName: string; trustAnchorsPem: string };
  /** How long to wait for the first answer about a destination. Default 3s. */
  resolveTimeoutMs?: number;
  /** Forget a destination unused this long (closing its stream). Default 5 min. */
  idleMs?: number;
  /** Reconnect delay after a stream breaks; doubles up to 30s. Default 500ms. */
  retryMs?: number;
  /**
   * PING keepalive on the channel: a service that stops answering (a stopped process, a
   * blackholed link) is dropped within this, its Watch streams fail and are re-established.
   * Default 20s; 0 disables.
   */
  keepaliveMs?: number;
  /** The service's HTTP/2 SETTINGS must arrive within this after connecting. Default 10s. */
  connectTimeoutMs?: number;
  logger: Logger;
}

export class DiscoveryUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DiscoveryUnavailableError';
  }
}

interface Entry {
  key: string;
  address: string;
  port: number;
  answer: EndpointMessage | null;
  lastUsed: number;
  waiters: { resolve: (e: EndpointMessage) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[];
  cancel: (() => void) | null;
  failures: number;
  retry: NodeJS.Timeout | null;
  lastError: string | null;
}

export class DiscoveryClient {
  private readonly channel: GrpcChannel;
  private readonly entries = new Map<string, Entry>();
  private readonly sweeper: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly cfg: DiscoveryClientConfig) {
    this.channel = new GrpcChannel({
      address: cfg.address,
      tls: cfg.tls,
      maxMessageBytes: 64 * 1024,
      idleTimeoutMs: 24 * 3_600_000,
      keepaliveMs: cfg.keepaliveMs,
      connectTimeoutMs: cfg.connectTimeoutMs,
    });
    this.sweeper = setInterval(() => this.sweep(), Math.min(cfg.idleMs ?? 300_000, 60_000));
    this.sweeper.unref();
  }

  /** The current answer for `address:port`, from the cache or the first message of a new Watch. */
  resolve(address: string, port: number): Promise<EndpointMessage> {
    if (this.closed) return Promise.reject(new DiscoveryUnavailableError('discovery client closed'));
    const key = `${address}|${port}`;
    let e = this.entries.get(key);
    if (!e) {
      e = { key, address, port, answer: null, lastUsed: Date.now(), waiters: [], cancel: null, failures: 0, retry: null, lastError: null };
      this.entries.set(key, e);
      this.watch(e);
    }
    e.lastUsed = Date.now();
    if (e.answer) return Promise.resolve(e.answer);
    const entry = e;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        entry.waiters = entry.waiters.filter((w) => w.timer !== timer);
        reject(new DiscoveryUnavailableError(`no answer from discovery at ${this.cfg.address} within ${this.cfg.resolveTimeoutMs ?? 3000} ms${entry.lastError ? ` (${entry.lastError})` : ''}`));
      }, this.cfg.resolveTimeoutMs ?? 3000);
      entry.waiters.push({ resolve, reject, timer });
    });
  }

  /** New trust anchors (a bundle reload): the service is verified against them from the next connection on. */
  setTrustAnchors(pem: string): void {
    this.channel.setTrustAnchors(pem);
  }

  /** Cached destinations, for /metrics and debugging. */
  get size(): number {
    return this.entries.size;
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const e of this.entries.values()) this.drop(e, new DiscoveryUnavailableError('discovery client closed'));
    this.channel.close();
  }

  private watch(e: Entry): void {
    e.retry = null;
    const call = this.channel.call(WATCH_PATH, encodeResolveRequest({ address: e.address, port: e.port }), null, {
      onMessage: (m) => {
        let answer: EndpointMessage;
        try {
          answer = decodeEndpoint(m);
        } catch (err) {
          return call.cancel(new GrpcError(GrpcStatus.INTERNAL, `malformed Endpoint: ${(err as Error).message}`));
        }
        const changed = e.answer && (e.answer.meshed !== answer.meshed || e.answer.identity !== answer.identity);
        if (changed) this.cfg.logger.info({ event: 'discovery_changed', destination: `${e.address}:${e.port}`, meshed: answer.meshed, identity: answer.identity || null }, 'discovery answer changed');
        e.answer = answer;
        e.failures = 0;
        e.lastError = null;
        for (const w of e.waiters) (clearTimeout(w.timer), w.resolve(answer));
        e.waiters = [];
      },
      onEnd: (err) => {
        e.cancel = null;
        if (this.closed || !this.entries.has(e.key)) return;
        e.lastError = err ? `${err.codeName}: ${err.details}` : 'stream ended';
        if (err?.code === GrpcStatus.INVALID_ARGUMENT) {
          // The service will never answer this destination: fail its waiters and forget it.
          return this.drop(e, new DiscoveryUnavailableError(`discovery refused ${e.address}:${e.port}: ${err.details}`));
        }
        e.failures++;
        const delay = Math.min(30_000, (this.cfg.retryMs ?? 500) * 2 ** Math.min(e.failures - 1, 6));
        this.cfg.logger.warn({ event: 'discovery_stream_failed', destination: `${e.address}:${e.port}`, error: e.lastError, retry_in_ms: delay, cached: e.answer !== null }, 'discovery watch failed; retrying');
        e.retry = setTimeout(() => this.watch(e), delay);
        e.retry.unref();
      },
    });
    e.cancel = () => call.cancel();
  }

  private sweep(): void {
    const idle = this.cfg.idleMs ?? 300_000;
    const now = Date.now();
    for (const e of this.entries.values()) if (now - e.lastUsed > idle && e.waiters.length === 0) this.drop(e, null);
  }

  private drop(e: Entry, err: Error | null): void {
    this.entries.delete(e.key);
    if (e.retry) clearTimeout(e.retry);
    e.cancel?.();
    for (const w of e.waiters) (clearTimeout(w.timer), w.reject(err ?? new DiscoveryUnavailableError('dropped')));
    e.waiters = [];
  }
}
