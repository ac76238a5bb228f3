/**
 * Reading a proxy's admin port: its `/edges` document (checked field by field: it comes off
 * the network) and its `/audit` stream as JSON lines. Every request has a bound: the edges
 * GET a timeout, the stream a bound on its headers and the proxy's keepalive after that.
 */
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { isAuditRecord, type AuditRecordV1 } from '../telemetry/audit-record.js';
import { auditFilterQuery, type AuditFilter } from '../telemetry/audit-filter.js';
import type { EdgeCounters, EdgeRow, EdgesDocument } from '../telemetry/edges.js';
import { parseAddress } from '../util/address.js';
import type { ProxySource } from './proxy-sources.js';

/** Bodies bigger than this are refused: a proxy's table is bounded, so this is an error, not a big mesh. */
const MAX_EDGES_BYTES = 16 * 1024 * 1024;

export class AdminReadError extends Error {
  constructor(
    readonly source: ProxySource,
    message: string,
  ) {
    super(`${source.name}: ${message}`);
    this.name = 'AdminReadError';
  }
}

function get(source: ProxySource, path: string, timeoutMs: number): { req: ClientRequest; response: Promise<IncomingMessage> } {
  const { host, port } = parseAddress(source.admin, 'dial');
  const req = request({ host, port, path, method: 'GET', agent: false, timeout: timeoutMs });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.once('error', (e: NodeJS.ErrnoException) => reject(new AdminReadError(source, e.code ?? e.message)));
  });
  req.end();
  return { req, response };
}

export async function fetchEdges(source: ProxySource, timeoutMs = 5000): Promise<EdgesDocument> {
  const { response } = get(source, '/edges', timeoutMs);
  const res = await response;
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_EDGES_BYTES) res.destroy(new Error(`/edges is larger than ${MAX_EDGES_BYTES} bytes`));
      else chunks.push(c);
    });
    res.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.once('error', (e) => reject(new AdminReadError(source, e.message)));
  });
  if (res.statusCode !== 200) throw new AdminReadError(source, `/edges answered ${res.statusCode}${res.statusCode === 404 ? ' (a proxy without edge counters: upgrade it)' : ''}`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new AdminReadError(source, '/edges is not JSON');
  }
  const problem = edgesProblem(doc);
  if (problem) throw new AdminReadError(source, `/edges: ${problem}`);
  return doc as EdgesDocument;
}

const COUNTERS = ['allowed', 'denied', 'would_deny', 'bytes_client_to_server', 'bytes_server_to_client'] as const;

function countersProblem(c: unknown, path: string): string | null {
  if (typeof c !== 'object' || c === null) return `${path} is not an object`;
  const o = c as Record<string, unknown>;
  for (const k of COUNTERS) if (!Number.isSafeInteger(o[k]) || (o[k] as number) < 0) return `${path}.${k} is not a count`;
  if (o.last_seen !== null && (typeof o.last_seen !== 'string' || Number.isNaN(Date.parse(o.last_seen)))) return `${path}.last_seen is not a time`;
  return null;
}

/** Why a document is not an EdgesDocument, or null. Extra fields are allowed (newer proxies). */
export function edgesProblem(doc: unknown): string | null {
  if (typeof doc !== 'object' || doc === null) return 'not an object';
  const d = doc as Partial<Record<keyof EdgesDocument, unknown>>;
  const proxy = d.proxy as { identity?: unknown } | undefined;
  if (typeof proxy?.identity !== 'string') return 'proxy.identity is missing';
  if (!Array.isArray(d.edges)) return 'edges is not a list';
  for (const [i, e] of (d.edges as unknown[]).entries()) {
    const row = e as Partial<EdgeRow>;
    if (typeof row?.client !== 'string' || typeof row.server !== 'string') return `edges[${i}] has no client or server`;
    if (!Number.isInteger(row.port) || (row.port as number) < 0 || (row.port as number) > 65535) return `edges[${i}].port is not a port`;
    if (row.direction !== 'inbound' && row.direction !== 'outbound') return `edges[${i}].direction is not inbound or outbound`;
    if (typeof row.mtls !== 'boolean') return `edges[${i}].mtls is not a boolean`;
    const p = countersProblem(row, `edges[${i}]`);
    if (p) return p;
  }
  return countersProblem(d.other as EdgeCounters, 'other');
}

export interface TapHandlers {
  /** The proxy confirmed the subscription: records from now on reach onRecord. */
  onSubscribed?: () => void;
  onRecord: (r: AuditRecordV1) => void;
  /** The proxy dropped `n` records for this subscriber (it read too slowly). */
  onDropped?: (n: number) => void;
  /** The stream ended (the proxy stopped, or close() was called: then `err` is undefined). */
  onEnd?: (err?: Error) => void;
}

export interface Tap {
  close(): void;
}

/** Subscribes to a proxy's `/audit` as JSON lines. */
export function tapProxy(source: ProxySource, filter: AuditFilter, h: TapHandlers, o: { connectTimeoutMs?: number } = {}): Tap {
  const { req, response } = get(source, `/audit?${auditFilterQuery(filter, { format: 'jsonl' })}`, o.connectTimeoutMs ?? 5000);
  let closed = false;
  let ended = false;
  const end = (err?: Error) => {
    if (ended) return;
    ended = true;
    h.onEnd?.(closed ? undefined : err);
  };
  response.then(
    (res) => {
      // Past the headers the proxy's keepalive (15 s) keeps the stream alive; a silent minute is a dead one.
      req.setTimeout(60_000);
      if (res.statusCode !== 200) {
        res.resume();
        return end(new AdminReadError(source, `/audit answered ${res.statusCode}`));
      }
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buf += chunk;
        for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          if (line) handleLine(line, h);
        }
      });
      res.once('end', () => end(new AdminReadError(source, 'the proxy closed the audit stream')));
      res.once('error', (e) => end(new AdminReadError(source, e.message)));
      res.once('close', () => end(new AdminReadError(source, 'the audit stream was cut')));
    },
    (e: Error) => end(e),
  );
  return {
    close() {
      closed = true;
      req.destroy();
      end();
    },
  };
}

function handleLine(line: string, h: TapHandlers): void {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return; // not ours to interpret; a proxy writes whole lines
  }
  if (isAuditRecord(v)) return h.onRecord(v);
  const control = v as { stream?: unknown; dropped?: unknown };
  if (control.stream === 'subscribed') h.onSubscribed?.();
  else if (control.stream === 'dropped' && typeof control.dropped === 'number') h.onDropped?.(control.dropped);
}
