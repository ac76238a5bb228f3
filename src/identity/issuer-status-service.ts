/**
 * `lanyard.identity.v1.IssuerStatus/Watch` (proto/lanyard/identity/v1/issuer.proto): how
 * proxies learn, within seconds, that the issuer or the trust bundle changed, so each can
 * re-certify within its re-issue window instead of at 70% of its leaf's life. Every stream
 * gets the status at once, again on every change (a reload, the issuer's expiry), and as a
 * heartbeat carrying the service's clock, from which proxies estimate their clock skew.
 *
 * The service observes the skew the other way too: each request carries the caller's clock;
 * the difference is exported as a histogram and logged when it exceeds the NotBefore
 * backdating (`--skew`), past which a proxy would see its fresh leaves as not yet valid.
 *
 * The stream says nothing secret (the issuer certificate is in every Certify answer), so it
 * asks for no token; what bounds it is the connection limit and `maxStreams` (beyond it, new
 * streams are refused RESOURCE_EXHAUSTED). A caller that stops reading is not buffered for:
 * a status is written only while its stream has room, and the next one says it all again.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../telemetry/logger.js';
import { Gauge, Histogram, type Registry } from '../telemetry/metrics.js';
import { fromTimestamp, toTimestamp, type Timestamp } from '../proto/messages.js';
import type { IssuerStore } from './issuer-store.js';

export const ISSUER_WATCH_METHOD = { service: 'lanyard.identity.v1.IssuerStatus', method: 'Watch', type: 'server_stream' } as const;

interface WatchRequest {
  client_time: Timestamp | null;
  identity: string;
}

export interface IssuerStatus {
  issuer_fingerprint_sha256: string;
  bundle_fingerprint: string;
  server_time: Timestamp;
  issuer_not_after: Timestamp | null;
  ready: boolean;
  reason: string;
}

type WatchCall = grpc.ServerWritableStream<WatchRequest, IssuerStatus>;

export interface IssuerStatusServiceConfig {
  issuers: Pick<IssuerStore, 'current' | 'loadedIssuer' | 'unavailableReason' | 'bundleFingerprint' | 'onChange' | 'onExpiry'>;
  logger: Logger;
  registry: Registry;
  /** The NotBefore backdating: a caller whose clock is off by more is logged. Default 20s. */
  skewMs?: number;
  /** Status sent this often even without a change (the caller's skew estimate). Default 30s. */
  heartbeatMs?: number;
  /** Streams open at once; more are refused RESOURCE_EXHAUSTED. Default 10,000. */
  maxStreams?: number;
  clock?: () => number;
}

/** Messages a stream may have queued before a status is skipped for it. */
const MAX_QUEUED = 4;

export class IssuerStatusService {
  private readonly calls = new Set<WatchCall>();
  private readonly open: Gauge;
  private readonly skew: Histogram;
  private heartbeat: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void)[] = [];

  constructor(private readonly cfg: IssuerStatusServiceConfig) {
    const registers = [cfg.registry];
    this.open = new Gauge({ name: 'lanyard_identity_issuer_watch_streams', help: 'Issuer status streams (IssuerStatus/Watch) open now.', registers });
    this.skew = new Histogram({
      name: 'lanyard_identity_client_clock_skew_seconds',
      help: "How far callers' clocks are from the service's, as each status stream opens (absolute, seconds; network latency included).",
      buckets: [0.05, 0.25, 1, 2, 5, 10, 20, 30, 60, 300],
      registers,
    });
  }

  /** Starts following the issuer store; streams may be served from now on. */
  start(): void {
    const broadcast = () => this.broadcast();
    this.unsubscribe = [this.cfg.issuers.onChange(broadcast), this.cfg.issuers.onExpiry(broadcast)];
    this.heartbeat = setInterval(broadcast, this.cfg.heartbeatMs ?? 30_000);
    this.heartbeat.unref();
  }

  /** Ends every stream (OK: the caller reconnects to whoever serves next). */
  stop(): void {
    for (const u of this.unsubscribe) u();
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    for (const call of this.calls) call.end();
    this.calls.clear();
    this.open.set(0);
  }

  /** The handlers grpc-js serves. */
  handlers(): grpc.UntypedServiceImplementation {
    return { Watch: (call: WatchCall) => this.watch(call) };
  }

  /** What a stream is sent now. */
  status(): IssuerStatus {
    const valid = this.cfg.issuers.current();
    const loaded = this.cfg.issuers.loadedIssuer();
    return {
      issuer_fingerprint_sha256: loaded?.fingerprint ?? '',
      bundle_fingerprint: this.cfg.issuers.bundleFingerprint() ?? '',
      server_time: toTimestamp(new Date(this.now())),
      issuer_not_after: loaded ? toTimestamp(loaded.notAfter) : null,
      ready: valid !== null,
      reason: valid ? '' : this.cfg.issuers.unavailableReason(),
    };
  }

  private watch(call: WatchCall): void {
    if (this.calls.size >= (this.cfg.maxStreams ?? 10_000)) {
      call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details: `more than ${this.cfg.maxStreams ?? 10_000} issuer status streams are open` });
      return;
    }
    this.observeSkew(call);
    this.calls.add(call);
    this.open.set(this.calls.size);
    const forget = () => {
      if (this.calls.delete(call)) this.open.set(this.calls.size);
    };
    call.on('cancelled', forget);
    call.on('close', forget);
    call.on('error', forget);
    this.send(call, this.status());
  }

  private broadcast(): void {
    const status = this.status();
    for (const call of this.calls) this.send(call, status);
  }

  private send(call: WatchCall, status: IssuerStatus): void {
    if (call.cancelled || call.writableLength >= MAX_QUEUED) return;
    call.write(status);
  }

  private observeSkew(call: WatchCall): void {
    const sent = call.request.client_time;
    if (!sent || (!sent.seconds && !sent.nanos)) return;
    const skewMs = fromTimestamp(sent).getTime() - this.now();
    this.skew.observe(Math.abs(skewMs) / 1000);
    const allowed = this.cfg.skewMs ?? 20_000;
    if (Math.abs(skewMs) <= allowed) return;
    this.cfg.logger.warn(
      { event: 'client_clock_skew', peer: call.getPeer(), claimed_identity: call.request.identity.slice(0, 253) || null, skew_ms: skewMs, allowed_ms: allowed },
      `a caller's clock is ${Math.round(Math.abs(skewMs) / 1000)}s ${skewMs > 0 ? 'ahead of' : 'behind'} the service's, beyond the ${allowed / 1000}s leaves are backdated by`,
    );
  }

  private now(): number {
    return (this.cfg.clock ?? Date.now)();
  }
}
