/**
 * One audit line per connection, written when it closes. The fields answer "which
 * identities talked to this workload, when, and were they allowed" from the log alone:
 *
 *   {"event":"connection","direction":"inbound","local_identity":"api…","peer_identity":"web…",
 *    "tls":true,"src":"10.0.0.5:51234","dst":"10.0.0.9:8080","port":8080,"decision":"allow",
 *    "rule":"port:8080/allow[0] identity web…","reason":"…","bytes_rx":123,"bytes_tx":456,
 *    "duration_ms":12.3,"close_reason":"eof","time":"…"}
 */
import type { Logger } from '../src/telemetry/logger.js';
import type { Direction, ProxyMetrics } from './metrics.js';

export interface ConnectionRecord {
  direction: Direction;
  localIdentity: string;
  /** Verified peer identity, or null when unauthenticated. */
  peerIdentity: string | null;
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
}

export class ConnectionAudit {
  constructor(
    private readonly logger: Logger,
    private readonly metrics?: ProxyMetrics,
  ) {}

  /** Counts a decided connection as open. */
  opened(r: Pick<ConnectionRecord, 'direction' | 'peerIdentity' | 'decision'>): void {
    this.metrics?.connectionOpened(r.direction, r.peerIdentity ?? 'unauthenticated', r.decision);
  }

  closed(r: ConnectionRecord): void {
    const peer = r.peerIdentity ?? 'unauthenticated';
    this.metrics?.connectionClosed(r.direction, peer, r.decision, r.closeReason, r.rx, r.tx);
    const line = {
      event: 'connection',
      direction: r.direction,
      local_identity: r.localIdentity,
      peer_identity: peer,
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
    };
    if (r.decision === 'deny') this.logger.warn(line, 'connection denied');
    else this.logger.info(line, 'connection closed');
  }
}

export function endpoint(address: string | undefined, port: number | undefined): string {
  if (!address) return 'unknown';
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
