/**
 * The merged edges of a set of proxies, as `lanyard edges -o json` prints it and the
 * dashboard serves it: every source read in parallel (each bounded by the timeout), the
 * graph merged (merge-edges.ts), and what each source answered.
 */
import { fetchEdges } from './admin-client.js';
import { mergeEdges, type MergedGraph, type SourceView } from './merge-edges.js';
import type { ProxySource } from './proxy-sources.js';

export interface SourceStatus {
  name: string;
  admin: string;
  /** The proxy's identity, or null when it could not be read. */
  identity: string | null;
  /** When its counters started. */
  since: string | null;
  error: string | null;
}

export interface EdgeReport extends MergedGraph {
  generated_at: string;
  sources: SourceStatus[];
}

export async function collectEdges(sources: ProxySource[], timeoutMs: number, now: () => Date = () => new Date()): Promise<EdgeReport> {
  const read = await Promise.all(sources.map((s) => fetchEdges(s, timeoutMs).then((doc) => ({ source: s, doc }), (e: Error) => ({ source: s, error: e.message }))));
  const views: SourceView[] = [];
  const statuses: SourceStatus[] = [];
  for (const r of read) {
    if ('doc' in r) {
      views.push(r);
      statuses.push({ name: r.source.name, admin: r.source.admin, identity: r.doc.proxy.identity, since: r.doc.since, error: null });
    } else {
      statuses.push({ name: r.source.name, admin: r.source.admin, identity: null, since: null, error: r.error });
    }
  }
  return { generated_at: now().toISOString(), sources: statuses, ...mergeEdges(views) };
}

/** Only the edges a stricter policy would have refused connections on (`--would-deny`). */
export function wouldDenyOnly(r: EdgeReport): EdgeReport {
  return { ...r, edges: r.edges.filter((e) => e.would_deny > 0) };
}
