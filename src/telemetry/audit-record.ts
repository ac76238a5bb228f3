/**
 * The proxy's audit record, schema v1: one JSON object per line, one line per decided
 * connection, multiplexed stream and multiplexed session, written when it closes. The
 * README's "Audit record" table documents the same fields (a test keeps the two in step).
 *
 * Stability: within `"audit": "v1"` fields are only ever added; none is removed, renamed or
 * changes meaning or type. Readers must ignore fields they do not know. A change that
 * breaks that promise is `"audit": "v2"`.
 */

export const AUDIT_SCHEMA = 'v1';

export type AuditDecision = 'allow' | 'deny' | 'audit';

export interface AuditRecordV1 {
  /** Always `"v1"`: the schema of this line. */
  audit: typeof AUDIT_SCHEMA;
  /** When the connection closed and the record was written (ISO 8601, UTC, ms). */
  time: string;
  /** `connection`: one application connection, classic or a multiplexed stream; `mux_session`: a session of the multiplexed or relay transport (its streams have their own records). */
  event: 'connection' | 'mux_session';
  /** `inbound`: a peer connected to this workload; `outbound`: this workload connected out. */
  direction: 'inbound' | 'outbound';
  /** This proxy's workload identity. */
  local_identity: string;
  /** The peer's verified DNS identity, else its verified SPIFFE ID, else `unauthenticated`. Outbound: the upstream, once its certificate proved the expected identity. */
  peer_identity: string;
  /** The peer's verified SPIFFE ID, or null. */
  peer_spiffe_id: string | null;
  /** Serial number (hex, upper case) of the certificate the peer presented, or null without one. */
  peer_serial: string | null;
  /** SHA-256 fingerprint (`AA:BB:…`) of the certificate that signed the peer's certificate, or null when unknown. */
  peer_issuer_fingerprint_sha256: string | null;
  /** Outbound: the identity the upstream had to prove (null: an unmeshed destination). Inbound: null. */
  expected_identity: string | null;
  /** TLS was terminated (inbound) or originated (outbound) by this proxy. */
  tls: boolean;
  /** `tcp`: no TLS by this proxy; `tls`: one TLS connection; `mux`: a stream on (or, for mux_session, the session of) the multiplexed transport; `relay`: the same on the relay transport (LANYARD_PROXY_RELAY). */
  transport: 'tcp' | 'tls' | 'mux' | 'relay';
  /** Inbound multiplexed streams and sessions: the session's id, the same on the session's record and on each of its streams; else null. */
  session: string | null;
  /** Where the connection came from, `host:port` (`[v6]:port`). */
  src: string;
  /** Where the bytes went, `host:port`: the application (inbound) or the upstream (outbound). */
  dst: string;
  /** The port the policy judged: the application port (inbound) or the upstream's port (outbound). */
  port: number;
  /** `allow`, `deny`, or `audit`: allowed by a dry-run rule (the `audit` policy or a port with `audit: true`). */
  decision: AuditDecision;
  /** True when `decision` is `audit` and the enforcing rule would have refused the connection; `rule` and `reason` say which and why. */
  would_deny: boolean;
  /** The rule that decided: `default:deny`, `port:8080/allow[1] identity …`, `port:8080/no-match`, or a stage before the policy (`detect`, `tls`, `limit`, `target`, `mux`). */
  rule: string;
  /** Why, in words, naming the peer and what it matched. */
  reason: string;
  /** Bytes received from the peer. */
  bytes_rx: number;
  /** Bytes sent to the peer. */
  bytes_tx: number;
  /** From accept (or the stream's arrival) to close, in milliseconds (µs resolution). */
  duration_ms: number;
  /** How it ended: `eof`, `policy-deny`, `idle-timeout`, `error:<side>:<code>`, `upstream:<code>`, … */
  close_reason: string;
  /** mux_session only: how many streams the session carried. */
  streams?: number;
}

/** The fields of the v1 record, in the order they are written. */
export const AUDIT_FIELDS: readonly (keyof AuditRecordV1)[] = [
  'audit',
  'time',
  'event',
  'direction',
  'local_identity',
  'peer_identity',
  'peer_spiffe_id',
  'peer_serial',
  'peer_issuer_fingerprint_sha256',
  'expected_identity',
  'tls',
  'transport',
  'session',
  'src',
  'dst',
  'port',
  'decision',
  'would_deny',
  'rule',
  'reason',
  'bytes_rx',
  'bytes_tx',
  'duration_ms',
  'close_reason',
  'streams',
];

/** True for a parsed line that is a v1 audit record (and not a diagnostic log line). */
export function isAuditRecord(v: unknown): v is AuditRecordV1 {
  return typeof v === 'object' && v !== null && (v as { audit?: unknown }).audit === AUDIT_SCHEMA;
}
