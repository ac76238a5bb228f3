/**
 * A closed connection's record as the v1 audit line (src/telemetry/audit-record.ts). Built
 * once per record; the sink, the edge counters and every tap subscriber share it.
 */
import type { AuditRecordV1 } from '../../src/telemetry/audit-record.js';
import { UNAUTHENTICATED } from '../../src/telemetry/edge-names.js';
import type { ConnectionRecord } from '../audit.js';

/** What the audit and the metrics name a peer: its DNS identity, else its SPIFFE ID, else `unauthenticated`. */
export function peerName(r: Pick<ConnectionRecord, 'peerIdentity' | 'peerSpiffeId'>): string {
  return r.peerIdentity ?? r.peerSpiffeId ?? UNAUTHENTICATED;
}

export function toAuditRecord(r: ConnectionRecord, closedAt: number, now: number): AuditRecordV1 {
  const line: AuditRecordV1 = {
    audit: 'v1',
    time: new Date(now).toISOString(),
    event: r.streams === undefined ? 'connection' : 'mux_session',
    direction: r.direction,
    local_identity: r.localIdentity,
    peer_identity: peerName(r),
    peer_spiffe_id: r.peerSpiffeId ?? null,
    peer_serial: r.peerSerial ?? null,
    peer_issuer_fingerprint_sha256: r.peerIssuerFingerprint ?? null,
    // One schema for every path: inbound has no expectation, so null.
    expected_identity: r.expectedIdentity ?? null,
    tls: r.tls,
    transport: r.streams !== undefined ? (r.transport === 'relay' ? 'relay' : 'mux') : r.transport ?? (r.tls ? 'tls' : 'tcp'),
    session: r.session ?? null,
    src: r.src,
    dst: r.dst,
    port: r.port,
    decision: r.decision,
    would_deny: r.wouldDeny === true,
    rule: r.rule,
    reason: r.reason,
    bytes_rx: r.rx,
    bytes_tx: r.tx,
    duration_ms: Math.round((closedAt - r.startedAt) * 1000) / 1000,
    close_reason: r.closeReason,
  };
  if (r.streams !== undefined) line.streams = r.streams;
  return line;
}
