/**
 * The proxy's per-edge counters: one row per (client, server, port) it saw, in memory and
 * bounded. Recording a connection is one map lookup and a few additions; a row is never
 * evicted on the data path. When the table is full, connections of new edges are counted
 * in `other`, and the periodic sweep (off the data path) folds the least recently seen
 * tenth of the rows into `other`, so edges that are active now get rows again. Nothing is
 * ever dropped: every connection is in a row or in `other`.
 *
 * Multiplexed sessions are not edges (their streams are); a session's record is skipped.
 */
import type { AuditRecordV1 } from '../../src/telemetry/audit-record.js';
import { edgeEnds, edgeKey, UNAUTHENTICATED } from '../../src/telemetry/edge-names.js';
import type { EdgeCounters, EdgeRow, EdgesDocument } from '../../src/telemetry/edges.js';

export interface EdgeTableConfig {
  /** Rows kept. Default 1000. */
  limit?: number;
  /** Epoch ms. Default Date.now. */
  clock?: () => number;
}

interface Counts {
  allowed: number;
  denied: number;
  wouldDeny: number;
  toServer: number;
  toClient: number;
  /** Epoch ms; 0 when nothing was counted. */
  lastSeen: number;
}

interface Row extends Counts {
  client: string;
  server: string;
  port: number;
  direction: 'inbound' | 'outbound';
  mtls: boolean;
}

const zero = (): Counts => ({ allowed: 0, denied: 0, wouldDeny: 0, toServer: 0, toClient: 0, lastSeen: 0 });

export class EdgeTable {
  readonly limit: number;
  private readonly rows = new Map<string, Row>();
  private readonly other = zero();
  private readonly clock: () => number;
  readonly since: number;

  constructor(cfg: EdgeTableConfig = {}) {
    this.limit = cfg.limit ?? 1000;
    if (!(this.limit >= 1)) throw new Error(`edge limit must be at least 1 (got ${cfg.limit})`);
    this.clock = cfg.clock ?? Date.now;
    this.since = this.clock();
  }

  get size(): number {
    return this.rows.size;
  }

  /** Counts one closed connection or stream. O(1). */
  record(r: AuditRecordV1): void {
    if (r.event !== 'connection') return;
    const { client, server } = edgeEnds(r);
    const key = `${r.direction}\u0000${edgeKey(client, server, r.port)}`;
    let row: Counts | undefined = this.rows.get(key);
    if (!row) {
      if (this.rows.size >= this.limit) row = this.other;
      else {
        const fresh: Row = { client, server, port: r.port, direction: r.direction, mtls: true, ...zero() };
        this.rows.set(key, fresh);
        row = fresh;
      }
    }
    if (row !== this.other && !mutualTls(r)) (row as Row).mtls = false;
    if (r.decision === 'deny') row.denied++;
    else row.allowed++;
    if (r.would_deny) row.wouldDeny++;
    // The client sent what the server's side received: inbound rx, outbound tx.
    const inbound = r.direction === 'inbound';
    row.toServer += inbound ? r.bytes_rx : r.bytes_tx;
    row.toClient += inbound ? r.bytes_tx : r.bytes_rx;
    row.lastSeen = this.clock();
  }

  /**
   * Makes room when the table is full: the least recently seen tenth of the rows (at least
   * one) is folded into `other`. O(n log n); run by a timer, never per connection.
   */
  sweep(): number {
    if (this.rows.size < this.limit) return 0;
    const n = Math.max(1, Math.floor(this.limit / 10));
    const oldest = [...this.rows.entries()].sort((a, b) => a[1].lastSeen - b[1].lastSeen).slice(0, n);
    for (const [key, row] of oldest) {
      fold(this.other, row);
      this.rows.delete(key);
    }
    return oldest.length;
  }

  /** The `/edges` document: rows most recently seen first. */
  snapshot(proxy: { identity: string; admin: string }): EdgesDocument {
    const edges = [...this.rows.values()].sort((a, b) => b.lastSeen - a.lastSeen).map(toRow);
    return { proxy, since: new Date(this.since).toISOString(), edges, other: counters(this.other), limit: this.limit };
  }
}

/** A verified certificate on both sides: inbound, the client's; outbound, the upstream was dialled with mutual TLS. */
function mutualTls(r: AuditRecordV1): boolean {
  if (!r.tls) return false;
  return r.direction === 'inbound' ? r.peer_identity !== UNAUTHENTICATED : r.expected_identity !== null;
}

function fold(into: Counts, row: Counts): void {
  into.allowed += row.allowed;
  into.denied += row.denied;
  into.wouldDeny += row.wouldDeny;
  into.toServer += row.toServer;
  into.toClient += row.toClient;
  into.lastSeen = Math.max(into.lastSeen, row.lastSeen);
}

function counters(c: Counts): EdgeCounters {
  return {
    allowed: c.allowed,
    denied: c.denied,
    would_deny: c.wouldDeny,
    bytes_client_to_server: c.toServer,
    bytes_server_to_client: c.toClient,
    last_seen: c.lastSeen ? new Date(c.lastSeen).toISOString() : null,
  };
}

function toRow(r: Row): EdgeRow {
  return { client: r.client, server: r.server, port: r.port, direction: r.direction, mtls: r.mtls, ...counters(r) };
}
