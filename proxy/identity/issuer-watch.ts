/**
 * How a proxy learns that the identity service signs with a new issuer, so it holds a leaf
 * from it within its re-issue window (default 60 s) without waiting for its renewal, and
 * without a thousand proxies calling Certify in the same second:
 *
 * - the issuer status stream (`lanyard.identity.v1.IssuerStatus/Watch`), opened on the same
 *   HTTP/2 connection as Certify (its PING keepalive guards both). Each status names the
 *   issuer Certify signs with; when it is not the one that signed our leaf, a re-issue is
 *   scheduled at a uniformly random moment within the window. Each status also carries the
 *   service's clock: the skew estimate (clock-skew.ts). A stream that ends is reopened with
 *   capped backoff, and at once when the Certify connection was remade (new anchors);
 * - the fallback, for an identity service without the stream (UNIMPLEMENTED: Linkerd's):
 *   a Certify at a random moment in every window, so a new issuer is still picked up within
 *   it; each answer says which issuer signed (workload-identity.ts logs `issuer_changed`).
 */
import type { IssuerStatusMessage } from '../../src/proto/issuer-status-codec.js';
import { fromTimestamp } from '../../src/proto/messages.js';
import type { Logger } from '../../src/telemetry/logger.js';
import { timerDelay } from '../../src/util/duration.js';
import { GrpcStatus, type GrpcError } from '../grpc/grpc-channel.js';
import type { ClockSkew } from './clock-skew.js';
import type { WorkloadIdentity } from './workload-identity.js';

export interface IssuerWatchConfig {
  identity: Pick<WorkloadIdentity, 'watchIssuer' | 'leafIssuerFingerprint' | 'reissue' | 'onClientReplaced'>;
  /** A new issuer is picked up within this. Default 60s. */
  windowMs?: number;
  skew: ClockSkew;
  logger: Logger;
  /** First reconnect delay; doubles up to maxBackoffMs. Defaults 1s / 30s. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  clock?: () => number;
  random?: () => number;
}

export type IssuerWatchMode = 'stream' | 'periodic-certify';

export class IssuerWatch {
  private call: { cancel: () => void } | null = null;
  private timer: NodeJS.Timeout | null = null;
  private failures = 0;
  private stopped = false;
  /** The issuer a re-issue was last scheduled for, and when (one change, one re-issue per window). */
  private scheduledFor: { issuer: string; at: number } | null = null;
  private unsubscribe: (() => void) | null = null;
  /** The last status received, for /identity. */
  last: IssuerStatusMessage | null = null;
  mode: IssuerWatchMode = 'stream';

  constructor(private readonly cfg: IssuerWatchConfig) {}

  start(): void {
    this.unsubscribe = this.cfg.identity.onClientReplaced(() => this.reopen());
    this.open();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.call?.cancel();
    this.call = null;
  }

  private get windowMs(): number {
    return this.cfg.windowMs ?? 60_000;
  }

  private open(): void {
    if (this.stopped || this.mode !== 'stream') return;
    let first = true;
    let sentAt = 0;
    const call = this.cfg.identity.watchIssuer({
      onStatus: (s) => {
        const receivedAt = this.now();
        this.failures = 0;
        this.cfg.skew.observe(s, first ? { sentAt, receivedAt } : { receivedAt });
        first = false;
        this.last = s;
        this.judge(s);
      },
      onEnd: (err) => {
        if (this.call !== handle) return; // replaced: the new call is the one that counts
        this.call = null;
        this.ended(err);
      },
    });
    sentAt = call.sentAt;
    const handle = { cancel: call.cancel };
    this.call = handle;
  }

  /** The Certify connection was remade (new anchors): move the stream to it now. */
  private reopen(): void {
    if (this.stopped || this.mode !== 'stream') return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const old = this.call;
    this.call = null;
    old?.cancel();
    this.open();
  }

  private judge(s: IssuerStatusMessage): void {
    const leafIssuer = this.cfg.identity.leafIssuerFingerprint();
    const current = s.issuer_fingerprint_sha256;
    if (!s.ready || !current || !leafIssuer || current === leafIssuer) {
      if (current === leafIssuer) this.scheduledFor = null;
      return;
    }
    // Once per window: a re-issue that was answered by a replica still on the old issuer is
    // tried again in the next window, not at every heartbeat.
    if (this.scheduledFor?.issuer === current && this.now() - this.scheduledFor.at < this.windowMs) return;
    this.scheduledFor = { issuer: current, at: this.now() };
    this.cfg.logger.info(
      { event: 'issuer_change_seen', leaf_issuer: leafIssuer, issuer: current, within_ms: this.windowMs, service_time: s.server_time ? fromTimestamp(s.server_time).toISOString() : null },
      'the identity service signs with another issuer; re-certifying within the window',
    );
    this.cfg.identity.reissue('issuer-changed', this.windowMs);
  }

  private ended(err: GrpcError | null): void {
    if (this.stopped) return;
    if (err?.code === GrpcStatus.UNIMPLEMENTED) return this.fallBack(err);
    // A stream the server ended cleanly (it is stopping) is reopened like a broken one.
    this.failures++;
    const step = Math.min(this.cfg.maxBackoffMs ?? 30_000, (this.cfg.initialBackoffMs ?? 1000) * 2 ** (this.failures - 1));
    const delay = Math.round(step * (0.5 + 0.5 * this.random()));
    this.cfg.logger.debug({ event: 'issuer_watch_ended', reason: err?.message ?? 'ended by the server', retry_in_ms: delay }, 'issuer status stream ended; reopening');
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, delay);
    this.timer.unref();
  }

  /** No stream on this service: a Certify at a random moment in each window instead. */
  private fallBack(err: GrpcError): void {
    this.mode = 'periodic-certify';
    this.cfg.logger.info(
      { event: 'issuer_watch_unsupported', reason: err.message, every_ms: this.windowMs },
      'the identity service has no issuer status stream: re-certifying once per window to pick up a new issuer',
    );
    this.periodic();
  }

  private periodic(): void {
    if (this.stopped) return;
    // Uniform in the second half of each window: checks are never more than a window apart,
    // so a new issuer is in use within one, and proxies stay spread over it.
    this.timer = setTimeout(() => {
      this.timer = null;
      this.cfg.identity.reissue('issuer-check');
      this.periodic();
    }, timerDelay(Math.max(1000, this.windowMs * (0.5 + 0.5 * this.random()))));
    this.timer.unref();
  }

  private now(): number {
    return (this.cfg.clock ?? Date.now)();
  }

  private random(): number {
    return (this.cfg.random ?? Math.random)();
  }
}
