/**
 * `lanyard edges` for people (a table) and for Graphviz (`-o dot`). Identities of the form
 * `<sa>.<ns>.serviceaccount.identity.…` are shown as `<sa>.<ns>` in both, as Linkerd shows
 * client and server identities; JSON keeps the full names.
 */
import type { EdgeReport } from './edge-report.js';
import type { MergedEdge } from './merge-edges.js';

const WORKLOAD = /^([a-z0-9-]+)\.([a-z0-9-]+)\.serviceaccount\.identity\.[a-z0-9.-]+$/;

export function shortName(identity: string): string {
  const m = WORKLOAD.exec(identity);
  return m ? `${m[1]}.${m[2]}` : identity;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) (v /= 1024), i++;
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function ago(iso: string | null, now: Date): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

const HEADER = ['CLIENT', 'SERVER', 'PORT', 'ALLOWED', 'DENIED', 'WOULD-DENY', 'BYTES C→S', 'BYTES S→C', 'MTLS', 'LAST SEEN'];

function cells(e: MergedEdge, now: Date): string[] {
  return [
    shortName(e.client),
    shortName(e.server),
    String(e.port),
    String(e.allowed),
    String(e.denied),
    String(e.would_deny),
    formatBytes(e.bytes_client_to_server),
    formatBytes(e.bytes_server_to_client),
    e.mtls ? 'yes' : 'no',
    ago(e.last_seen, now),
  ];
}

export function edgesTable(r: EdgeReport, now = new Date()): string {
  const rows = [HEADER, ...r.edges.map((e) => cells(e, now))];
  const o = r.other;
  if (o.allowed + o.denied > 0) rows.push(['(other)', '', '', String(o.allowed), String(o.denied), String(o.would_deny), formatBytes(o.bytes_client_to_server), formatBytes(o.bytes_server_to_client), '', ago(o.last_seen, now)]);
  const widths = HEADER.map((_, i) => Math.max(...rows.map((row) => row[i].length)));
  const lines = rows.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]))).join('  ').trimEnd());
  if (r.edges.length === 0) lines.push('(no edges)');
  return lines.join('\n') + '\n';
}

/** A DOT string literal. */
export function dotString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`;
}

/**
 * A directed graph: a node per identity or address, an edge per (client, server, port)
 * labelled with its port and counts; red when anything was refused, orange when a dry run
 * would have refused something, dashed when not every connection was mutual TLS.
 */
export function edgesDot(r: EdgeReport): string {
  const nodes = new Set<string>();
  for (const e of r.edges) nodes.add(e.client).add(e.server);
  const out = ['digraph lanyard {', '  rankdir=LR;', '  node [shape=box, style=rounded, fontname="Helvetica"];', '  edge [fontname="Helvetica", fontsize=10];'];
  for (const n of [...nodes].sort()) out.push(`  ${dotString(n)} [label=${dotString(shortName(n))}];`);
  for (const e of r.edges) {
    const label = `:${e.port}\\nallowed ${e.allowed}, denied ${e.denied}${e.would_deny ? `\\nwould deny ${e.would_deny}` : ''}`;
    const color = e.denied > 0 ? 'red' : e.would_deny > 0 ? 'orange' : 'darkgreen';
    out.push(`  ${dotString(e.client)} -> ${dotString(e.server)} [label="${label.replace(/"/g, '\\"')}", color=${color}${e.mtls ? '' : ', style=dashed'}];`);
  }
  out.push('}');
  return out.join('\n') + '\n';
}
