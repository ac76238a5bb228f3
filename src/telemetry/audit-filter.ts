/**
 * Which audit records a tap subscriber wants. Parsed from the `/audit` query string (the
 * proxy applies it before anything is queued for the subscriber) and from `lanyard tap`'s
 * flags, with src/util's grammar; matching is a few compares per record. Pure.
 */
import { parsePort } from '../util/address.js';
import { parseBoolean, parseChoice, ValueError } from '../util/value-error.js';
import type { AuditDecision, AuditRecordV1 } from './audit-record.js';
import { edgeEnds } from './edge-names.js';

export interface AuditFilter {
  /**
   * The peer: its identity or SPIFFE ID, `*.suffix` (any identity ending in `.suffix`), or an
   * address (an unauthenticated or unmeshed peer, as `lanyard edges` names it).
   */
  identity?: string;
  port?: number;
  decision?: AuditDecision;
  /** Only records a stricter policy would have refused. */
  wouldDeny?: boolean;
}

export const DECISIONS: readonly AuditDecision[] = ['allow', 'deny', 'audit'];

/** The query parameters `/audit` reads; anything else is refused so a typo is not a silent "match all". */
const KEYS = ['identity', 'port', 'decision', 'would_deny', 'format'];

/** @throws ValueError naming the parameter */
export function parseAuditFilter(query: URLSearchParams): AuditFilter {
  const f: AuditFilter = {};
  for (const key of query.keys()) if (!KEYS.includes(key)) throw new ValueError(`unknown parameter ${JSON.stringify(key)} (expected one of ${KEYS.join(', ')})`);
  const at = <T>(key: string, parse: (v: string) => T): T | undefined => {
    const v = query.get(key);
    if (v === null || v === '') return undefined;
    try {
      return parse(v);
    } catch (e) {
      throw e instanceof ValueError ? new ValueError(`${key}: ${e.message}`) : e;
    }
  };
  const identity = at('identity', (v) => v.trim());
  if (identity) f.identity = identity;
  const port = at('port', parsePort);
  if (port !== undefined) f.port = port;
  const decision = at('decision', (v) => parseChoice(v, DECISIONS));
  if (decision) f.decision = decision;
  const wouldDeny = at('would_deny', parseBoolean);
  if (wouldDeny) f.wouldDeny = true;
  return f;
}

/** The query string that asks a proxy for `f` (without the leading `?`). */
export function auditFilterQuery(f: AuditFilter, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams(extra);
  if (f.identity) q.set('identity', f.identity);
  if (f.port !== undefined) q.set('port', String(f.port));
  if (f.decision) q.set('decision', f.decision);
  if (f.wouldDeny) q.set('would_deny', 'true');
  return q.toString();
}

export function matchesFilter(r: AuditRecordV1, f: AuditFilter): boolean {
  if (f.port !== undefined && r.port !== f.port) return false;
  if (f.decision !== undefined && r.decision !== f.decision) return false;
  if (f.wouldDeny && !r.would_deny) return false;
  if (f.identity !== undefined && !peerMatches(r, f.identity)) return false;
  return true;
}

function peerMatches(r: AuditRecordV1, want: string): boolean {
  if (r.peer_spiffe_id === want) return true;
  const ends = edgeEnds(r);
  const peer = r.direction === 'inbound' ? ends.client : ends.server;
  const name = peer.toLowerCase();
  if (want.startsWith('*.')) return name.endsWith(want.slice(1).toLowerCase());
  return name === want.toLowerCase() || r.peer_identity.toLowerCase() === want.toLowerCase();
}
