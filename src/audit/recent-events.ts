/**
 * The last audit records of each edge, for the dashboard's "click an edge" panel. Bounded
 * twice: a few records per edge, and a number of edges (the least recently written edge
 * goes first). Records are attributed to edges as the counts are (merge-edges.ts): a
 * client's outbound record of a connection whose server's proxy is also read is left out,
 * since the server's inbound record of it arrives too.
 */
import type { AuditRecordV1 } from '../telemetry/audit-record.js';
import { edgeEnds, edgeKey } from '../telemetry/edge-names.js';

export interface EdgeRef {
  client: string;
  server: string;
  port: number;
}

export class RecentEvents {
  private readonly byEdge = new Map<string, AuditRecordV1[]>();

  constructor(
    private readonly perEdge = 50,
    private readonly maxEdges = 5000,
  ) {}

  /**
   * Files `r` under its edge; returns the edge, or null when the record is not an edge's
   * (a session) or is the client's view of a connection the server reports.
   * @param speaksFor identities of the proxies being read
   */
  add(r: AuditRecordV1, speaksFor: ReadonlySet<string>): EdgeRef | null {
    if (r.event !== 'connection') return null;
    const { client, server } = edgeEnds(r);
    if (r.direction === 'outbound' && speaksFor.has(server)) return null;
    const key = edgeKey(client, server, r.port);
    let list = this.byEdge.get(key);
    if (list) this.byEdge.delete(key); // re-inserted last: the map's order is recency
    else list = [];
    list.push(r);
    if (list.length > this.perEdge) list.shift();
    this.byEdge.set(key, list);
    if (this.byEdge.size > this.maxEdges) this.byEdge.delete(this.byEdge.keys().next().value as string);
    return { client, server, port: r.port };
  }

  /** Newest first. */
  of(e: EdgeRef): AuditRecordV1[] {
    return [...(this.byEdge.get(edgeKey(e.client, e.server, e.port)) ?? [])].reverse();
  }
}
