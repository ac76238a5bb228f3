/**
 * One audit line per connection (and per multiplexed stream, and per mux session), written
 * when it closes. The fields answer "which identities talked to this workload, when, and were
 * they allowed" from the log alone:
 *
 *   {"event":"connection","direction":"inbound","local_identity":"api…","peer_identity":"web…",
 *    "peer_spiffe_id":"spiffe://…","expected_identity":null,"tls":true,"src":"10.0.0.5:51234",
 *    "dst":"10.0.0.9:8080","port":8080,"decision":"allow","rule":"port:8080/allow[0] identity web…",
 *    "reason":"…","bytes_rx":123,"bytes_tx":456,"duration_ms":12.3,"close_reason":"eof","time":"…"}
 *
 * A session's line is `"event":"mux_session"` with the same fields plus `streams`. Every
 * decision is counted; but a session that repeats one refusal (a flood of denied streams)
 * gets its first line in full and then one `connections_refused` line per interval with the
 * count, so the log cannot be flooded through it.
 */
import type { Logger } from '../src/telemetry/logger.js';
import type { Direction, ProxyMetrics } from './metrics.js';

export interface ConnectionRecord {
  direction: Direction;
  localIdentity: string;
  /** Verified DNS identity of the peer, or null. */
  peerIdentity: string | null;
  /** Verified SPIFFE ID of the peer, or null. */
  peerSpiffeId?: string | null;
  /** Outbound: the identity the upstream had to present (verified only when allowed). */
  expectedIdentity?: string | null;
  tls: boolean;
  src: string;
  dst: string;
  port: number;
  decision: 'allow' | 'deny' | 'audit';
  rule: string;
  reason: string;
  /** Bytes received from the peer / sent to the peer. */
  rx: number;
  tx: number;
  startedAt: number;
  closeReason: string;
  /** Set on a mux session's record: how many streams it carried. */
  streams?: number;
  /** Refusals with the same key (a session) and the same verdict are logged in summary. Not logged. */
  summaryKey?: string;
}

/** What the audit and the metrics name a peer: its DNS identity, else its SPIFFE ID, else `unauthenticated`. */
export function peerName(r: Pick<ConnectionRecord, 'peerIdentity' | 'peerSpiffeId'>): string {
  return r.peerIdentity ?? r.peerSpiffeId ?? 'unauthenticated';
}

export interface ConnectionAuditOptions {
  /** Interval of the refusal summaries. Default 10s. */
  summaryIntervalMs?: number;
}

export class ConnectionAudit {
  private readonly summaries: RefusalSummaries;
  /** Records closed so far (connections, streams and sessions). */
  closedCount = 0;

  constructor(
    private readonly logger: Logger,
    private readonly metrics?: ProxyMetrics,
    o: ConnectionAuditOptions = {},
  ) {
    this.summaries = new RefusalSummaries(logger, o.summaryIntervalMs ?? 10_000);
  }

  /** Counts a decided connection as open. */
  opened(r: ConnectionRecord): void {
    this.metrics?.connectionOpened(r);
  }

  closed(r: ConnectionRecord): void {
    this.closedCount++;
    this.metrics?.connectionClosed(r);
    const line = {
      event: r.streams === undefined ? 'connection' : 'mux_session',
      direction: r.direction,
      local_identity: r.localIdentity,
      peer_identity: peerName(r),
      peer_spiffe_id: r.peerSpiffeId ?? null,
      // One schema for every path: inbound has no expectation, so null.
      expected_identity: r.expectedIdentity ?? null,
      tls: r.tls,
      src: r.src,
      dst: r.dst,
      port: r.port,
      decision: r.decision,
      rule: r.rule,
      reason: r.reason,
      bytes_rx: r.rx,
      bytes_tx: r.tx,
      duration_ms: Math.round((performance.now() - r.startedAt) * 1000) / 1000,
      close_reason: r.closeReason,
      ...(r.streams === undefined ? {} : { streams: r.streams }),
    };
    if (r.decision !== 'deny') return this.logger.info(line, r.streams === undefined ? 'connection closed' : 'mux session closed');
    if (r.summaryKey !== undefined && this.summaries.repeats(r.summaryKey, line)) return;
    this.logger.warn(line, 'connection denied');
  }

  /** Writes the pending summaries now (at shutdown). */
  flush(): void {
    this.summaries.flush();
  }
}

type Line = Record<string, unknown>;

/** Per interval: the first refusal of a kind from a session is logged in full, the rest counted. */
class RefusalSummaries {
  private readonly buckets = new Map<string, { line: Line; count: number }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs: number,
  ) {}

  /** True when `line` repeats a refusal already logged this interval: it was counted instead. */
  repeats(key: string, line: Line): boolean {
    const kind = `${key}\u0000${String(line.port)}\u0000${String(line.rule)}\u0000${String(line.reason)}\u0000${String(line.close_reason)}`;
    const bucket = this.buckets.get(kind);
    if (bucket) {
      bucket.count++;
      return true;
    }
    if (this.buckets.size >= 10_000) this.flush(); // bounded, whatever a flood varies
    this.buckets.set(kind, { line, count: 0 });
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
    return false;
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const { line, count } of this.buckets.values()) {
      if (count === 0) continue;
      const { event: _e, bytes_rx: _rx, bytes_tx: _tx, duration_ms: _d, ...verdict } = line;
      this.logger.warn({ event: 'connections_refused', ...verdict, count, interval_ms: this.intervalMs }, 'repeated refusals from one session, summarized');
    }
    this.buckets.clear();
  }
}

export function endpoint(address: string | undefined, port: number | undefined): string {
  if (!address) return 'unknown';
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
