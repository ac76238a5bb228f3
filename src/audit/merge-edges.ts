/**
 * One identity graph from several proxies' `/edges`, without counting a connection twice.
 *
 * A connection between two meshed workloads is seen twice: by the client's proxy
 * (outbound) and by the server's (inbound). The server's proxy is the authority on it: it
 * verified the client's certificate and made the policy decision (and the dry-run flag), so
 * when the server's proxy is among the sources, its inbound rows count and every outbound
 * row towards that server identity is left out (it saw the same connections, from the other
 * end; the client's refusals that never reached the server are then visible only with the
 * client's proxy alone, or in `views`). Outbound rows count only for servers no source
 * speaks for: unmeshed destinations, and workloads whose proxies were not read. Replicas of
 * one server identity each see their own connections, so their inbound rows add up.
 *
 * Pure: the same views give the same graph.
 */
import { edgeKey } from '../telemetry/edge-names.js';
import { addCounters, emptyCounters, type EdgeCounters, type EdgeRow, type EdgesDocument } from '../telemetry/edges.js';
import type { ProxySource } from './proxy-sources.js';

export interface SourceView {
  source: ProxySource;
  doc: EdgesDocument;
}

export interface MergedEdge extends EdgeCounters {
  client: string;
  server: string;
  port: number;
  /** Every counted connection was mutual TLS. */
  mtls: boolean;
  /** The proxies whose rows were counted, and from which side. */
  seen_by: { proxy: string; direction: 'inbound' | 'outbound' }[];
}

export interface MergedGraph {
  edges: MergedEdge[];
  /** Every source's overflow (`other`), added up. */
  other: EdgeCounters;
  /** Outbound rows left out because the server's own proxy reported those connections. */
  superseded: number;
}

export function mergeEdges(views: SourceView[]): MergedGraph {
  const speaksFor = new Set(views.map((v) => v.doc.proxy.identity));
  const merged = new Map<string, MergedEdge>();
  const other = emptyCounters();
  let superseded = 0;
  for (const { source, doc } of views) {
    addCounters(other, doc.other);
    for (const row of doc.edges) {
      if (row.direction === 'outbound' && speaksFor.has(row.server)) {
        superseded++;
        continue;
      }
      add(merged, row, source.name);
    }
  }
  const edges = [...merged.values()].sort(byName);
  return { edges, other, superseded };
}

function add(merged: Map<string, MergedEdge>, row: EdgeRow, proxy: string): void {
  const key = edgeKey(row.client, row.server, row.port);
  let e = merged.get(key);
  if (!e) {
    e = { client: row.client, server: row.server, port: row.port, mtls: true, ...emptyCounters(), seen_by: [] };
    merged.set(key, e);
  }
  addCounters(e, row);
  e.mtls &&= row.mtls;
  e.seen_by.push({ proxy, direction: row.direction });
}

const byName = (a: MergedEdge, b: MergedEdge): number => a.client.localeCompare(b.client) || a.server.localeCompare(b.server) || a.port - b.port;
