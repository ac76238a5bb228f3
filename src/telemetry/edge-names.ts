/**
 * Who is the client and who the server of an audited connection, as `lanyard edges`, the
 * dashboard and the proxy's edge counters name them: a workload by its identity, an
 * unmeshed or unauthenticated peer by its address (the IP, without the ephemeral port).
 * Pure, and shared by the proxy (which counts) and the CLI (which merges and draws), so
 * the two can never name one edge two ways.
 */
import type { AuditRecordV1 } from './audit-record.js';

/** What the names are made of: a v1 record, or the proxy's own record before it is written. */
export type EdgeSource = Pick<AuditRecordV1, 'direction' | 'local_identity' | 'peer_identity' | 'expected_identity' | 'src' | 'dst'>;

export interface EdgeEnds {
  client: string;
  server: string;
}

/** `peer_identity` of a peer that proved no identity. */
export const UNAUTHENTICATED = 'unauthenticated';

export function edgeEnds(r: EdgeSource): EdgeEnds {
  if (r.direction === 'inbound') {
    return { client: r.peer_identity === UNAUTHENTICATED ? hostOf(r.src) : r.peer_identity, server: r.local_identity };
  }
  return { client: r.local_identity, server: r.expected_identity ?? hostOf(r.dst) };
}

/**
 * The host of `host:port` or `[v6]:port`; an IPv4-mapped IPv6 address (a dual-stack listener's
 * view of an IPv4 peer) as the IPv4 address, so one peer is one name.
 */
export function hostOf(endpoint: string): string {
  let host = endpoint;
  if (endpoint.startsWith('[')) {
    const close = endpoint.indexOf(']');
    host = close > 0 ? endpoint.slice(1, close) : endpoint;
  } else {
    const colon = endpoint.lastIndexOf(':');
    if (colon > 0 && endpoint.indexOf(':') === colon) host = endpoint.slice(0, colon);
  }
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return mapped ? mapped[1] : host;
}

/** The key of an edge: client, server and port. */
export function edgeKey(client: string, server: string, port: number): string {
  return `${client}\u0000${server}\u0000${port}`;
}
