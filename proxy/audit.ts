/**
 * One audit record per connection (and per multiplexed stream, and per mux session), made
 * when it closes: the v1 line (src/telemetry/audit-record.ts) goes to the audit sink
 * (stdout, or LANYARD_PROXY_AUDIT_FILE), is counted in the bounded edge table (`/edges`)
 * and offered to the live subscribers (`/audit`). That is all the data path pays: one
 * record built and serialized, one write, one map update, and a filter match per
 * subscriber; never anything per chunk of data.
 *
 * The audit sink is the record of every decision and is never summarized, whatever the log
 * level. The diagnostic log only carries refusals (`connection_denied`, at warn), and there a
 * session that repeats one refusal gets its first line in full and then one
 * `connections_refused` line per interval with the count, so the log cannot be flooded
 * through it.
 */
import { randomBytes } from 'node:crypto';
import type { AuditRecordV1 } from '../src/telemetry/audit-record.js';
import { AuditFile, StdoutAuditSink, type AuditSink } from '../src/telemetry/audit-sink.js';
import type { Logger } from '../src/telemetry/logger.js';
import { toAuditRecord } from './audit/audit-line.js';
import { AuditStream } from './audit/audit-stream.js';
import { EdgeTable } from './audit/edge-table.js';
import { RefusalSummaries } from './audit/refusal-summaries.js';
import type { Direction, ProxyMetrics } from './metrics.js';

export { peerName } from './audit/audit-line.js';

export interface ConnectionRecord {
  direction: Direction;
  localIdentity: string;
  /** Verified DNS identity of the peer, or null. */
  peerIdentity: string | null;
  /** Verified SPIFFE ID of the peer, or null. */
  peerSpiffeId?: string | null;
  /** Serial of the certificate the peer presented (verified), or null. */
  peerSerial?: string | null;
  /** SHA-256 fingerprint of the certificate that signed the peer's, or null when unknown. */
  peerIssuerFingerprint?: string | null;
  /** Outbound: the identity the upstream had to present (verified only when allowed). */
  expectedIdentity?: string | null;
  tls: boolean;
  /** Default: `tls` when tls, else `tcp`; a session is `mux` unless it says `relay`. */
  transport?: 'tcp' | 'tls' | 'mux' | 'relay';
  /** Inbound multiplexed streams and sessions: the session's id. */
  session?: string | null;
  src: string;
  dst: string;
  port: number;
  decision: 'allow' | 'deny' | 'audit';
  /** A dry-run rule allowed what it would have refused. */
  wouldDeny?: boolean;
  rule: string;
  reason: string;
  /** Bytes received from the peer / sent to the peer. */
  rx: number;
  tx: number;
  startedAt: number;
  closeReason: string;
  /** Set on a mux session's record: how many streams it carried. */
  streams?: number;
  /** Refusals with the same key (a session) and the same verdict are logged in summary. Not written. */
  summaryKey?: string;
}

export interface ConnectionAuditOptions {
  /** Interval of the diagnostic log's refusal summaries. Default 10s. */
  summaryIntervalMs?: number;
  /** The audit file (append-only, reopened by reopen()); null or absent: stdout. */
  file?: string | null;
  /** A sink to use instead of stdout or `file` (tests). */
  sink?: AuditSink;
  /** Rows of the edge table. Default 1000. */
  edgeLimit?: number;
  /** How often a full edge table folds its least recently seen rows. Default 30s. */
  edgeSweepMs?: number;
  /** Unsent bytes per `/audit` subscriber before records are dropped for it. Default 1 MiB. */
  streamBufferBytes?: number;
}

export class ConnectionAudit {
  readonly edges: EdgeTable;
  readonly stream: AuditStream;
  /** Records closed so far (connections, streams and sessions). */
  closedCount = 0;
  private readonly sink: AuditSink;
  private readonly summaries: RefusalSummaries;
  /** Prefix of session ids: sessions of two runs of the proxy never share one. */
  private readonly run = randomBytes(4).toString('hex');
  private sessions = 0;
  private sweeper: NodeJS.Timeout | null = null;
  private lastSinkError = 0;

  /** @throws when the audit file cannot be opened: a proxy must not run without its audit */
  constructor(
    private readonly logger: Logger,
    private readonly metrics?: ProxyMetrics,
    private readonly o: ConnectionAuditOptions = {},
  ) {
    const failed = (e: Error, during: 'write' | 'reopen') => this.sinkFailed(e, during);
    this.sink = o.sink ?? (o.file ? new AuditFile(o.file, failed) : new StdoutAuditSink(failed));
    this.summaries = new RefusalSummaries(logger, o.summaryIntervalMs ?? 10_000);
    this.edges = new EdgeTable({ limit: o.edgeLimit });
    this.stream = new AuditStream({
      identity: () => this.localIdentity,
      maxBufferedBytes: o.streamBufferBytes,
      onSubscribers: (d) => metrics?.auditSubscribers(d),
      onDropped: () => metrics?.auditDropped(),
    });
    metrics?.watchEdges(() => this.edges.size);
  }

  /** Named in `/audit`'s subscribed event; set by the proxy once it knows. */
  localIdentity = '';

  get sinkDescription(): string {
    return this.sink.description;
  }

  start(): void {
    this.sweeper = setInterval(() => this.edges.sweep(), this.o.edgeSweepMs ?? 30_000);
    this.sweeper.unref();
  }

  /** A new session id (`<run>-<n>`), for a session's record and its streams'. */
  sessionId(): string {
    return `${this.run}-${++this.sessions}`;
  }

  /** Counts a decided connection as open. */
  opened(r: ConnectionRecord): void {
    this.metrics?.connectionOpened(r);
  }

  closed(r: ConnectionRecord): void {
    this.closedCount++;
    this.metrics?.connectionClosed(r);
    const record = toAuditRecord(r, performance.now(), Date.now());
    const json = JSON.stringify(record);
    this.sink.write(json + '\n');
    this.metrics?.audited(record.event);
    this.edges.record(record);
    if (this.stream.subscribers > 0) this.stream.publish(record, json);
    if (record.decision === 'deny') this.logRefusal(record, r.summaryKey);
  }

  /** Opens the audit file again (SIGHUP after a rotation); stdout: nothing to do. */
  reopen(): void {
    this.sink.reopen();
    this.logger.info({ event: 'audit_reopened', sink: this.sink.description }, 'audit sink reopened');
  }

  /** Writes the pending summaries and closes the sink (at shutdown). */
  stop(): void {
    if (this.sweeper) clearInterval(this.sweeper);
    this.stream.closeAll();
    this.summaries.flush();
    this.sink.close();
  }

  private logRefusal(r: AuditRecordV1, summaryKey: string | undefined): void {
    const line = {
      event: 'connection_denied',
      direction: r.direction,
      local_identity: r.local_identity,
      peer_identity: r.peer_identity,
      src: r.src,
      dst: r.dst,
      port: r.port,
      rule: r.rule,
      reason: r.reason,
      close_reason: r.close_reason,
      session: r.session,
    };
    if (summaryKey !== undefined && this.summaries.repeats(summaryKey, line)) return;
    this.logger.warn(line, 'connection denied');
  }

  /** Counted every time; logged at most once a minute, so a full disk does not flood the log too. */
  private sinkFailed(e: Error, during: 'write' | 'reopen'): void {
    this.metrics?.auditWriteFailed(during);
    const now = Date.now();
    if (now - this.lastSinkError < 60_000) return;
    this.lastSinkError = now;
    this.logger.error({ event: 'audit_sink_failed', sink: this.sink?.description, during, reason: (e as NodeJS.ErrnoException).code ?? e.message }, 'the audit sink failed');
  }
}

export function endpoint(address: string | undefined, port: number | undefined): string {
  if (!address) return 'unknown';
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
