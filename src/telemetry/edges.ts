/**
 * The `/edges` document a proxy serves (CONTRACTS.md): its bounded per-edge counters. Read
 * by `lanyard edges` and `lanyard dashboard`, which merge several proxies' documents.
 */

export interface EdgeCounters {
  /** Connections and streams allowed (decision allow or audit). */
  allowed: number;
  /** Connections and streams refused. */
  denied: number;
  /** Allowed by a dry-run rule that would have refused them. */
  would_deny: number;
  bytes_client_to_server: number;
  bytes_server_to_client: number;
  /** When the last connection on it closed (ISO 8601), or null for an empty "other". */
  last_seen: string | null;
}

export interface EdgeRow extends EdgeCounters {
  /** The client's identity, or its address when it proved none. */
  client: string;
  /** The server's identity, or its address when it is unmeshed. */
  server: string;
  port: number;
  /** Which side of the edge reported it: the server's proxy (inbound) or the client's (outbound). */
  direction: 'inbound' | 'outbound';
  /** Every connection counted on it was mutual TLS (a verified certificate on both sides). */
  mtls: boolean;
}

export interface EdgesDocument {
  proxy: { identity: string; admin: string };
  /** When the counters started (the proxy's start). */
  since: string;
  /** At most `limit` rows, most recently seen first. */
  edges: EdgeRow[];
  /** Connections of edges that had no row (the table was full) or whose row was folded to make room. */
  other: EdgeCounters;
  limit: number;
}

export function emptyCounters(): EdgeCounters {
  return { allowed: 0, denied: 0, would_deny: 0, bytes_client_to_server: 0, bytes_server_to_client: 0, last_seen: null };
}

/** Adds `b` into `a` (last_seen: the later). */
export function addCounters(a: EdgeCounters, b: EdgeCounters): void {
  a.allowed += b.allowed;
  a.denied += b.denied;
  a.would_deny += b.would_deny;
  a.bytes_client_to_server += b.bytes_client_to_server;
  a.bytes_server_to_client += b.bytes_server_to_client;
  if (b.last_seen !== null && (a.last_seen === null || b.last_seen > a.last_seen)) a.last_seen = b.last_seen;
}
