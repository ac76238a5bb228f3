/**
 * `GET /audit` on the admin port: audit records streamed live to each subscriber (`lanyard
 * tap`, the dashboard), as server-sent events (`event: audit`) or, with `?format=jsonl`, as
 * chunked JSON lines; filtered by the query (src/telemetry/audit-filter.ts) before anything
 * is queued.
 *
 * A slow subscriber never slows the data path: publishing is a filter match and a socket
 * write per subscriber per record, never a wait. Once a subscriber has more than
 * `maxBufferedBytes` unsent, records are dropped for it and counted; when its buffer has
 * drained it is told how many (`event: dropped`, `{"dropped": n}`), then records flow again.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditRecordV1 } from '../../src/telemetry/audit-record.js';
import { matchesFilter, parseAuditFilter, type AuditFilter } from '../../src/telemetry/audit-filter.js';
import { ValueError } from '../../src/util/value-error.js';

export interface AuditStreamConfig {
  /** Named in the `subscribed` event. */
  identity: () => string;
  /** Unsent bytes per subscriber beyond which records are dropped for it. Default 1 MiB. */
  maxBufferedBytes?: number;
  /** A comment (SSE) or an empty line (JSON lines) this often, so idle streams stay open through proxies and dead ones are found. Default 15s. */
  keepaliveMs?: number;
  /** Told of subscribers coming and going, and of each dropped record. */
  onSubscribers?: (delta: 1 | -1) => void;
  onDropped?: () => void;
}

type Format = 'sse' | 'jsonl';

class Subscriber {
  /** Dropped since the subscriber was last told. */
  dropped = 0;

  constructor(
    readonly res: ServerResponse,
    readonly filter: AuditFilter,
    readonly format: Format,
  ) {}

  send(kind: 'audit' | 'dropped' | 'subscribed', json: string): void {
    if (this.format === 'sse') this.res.write(`event: ${kind}\ndata: ${json}\n\n`);
    else this.res.write(kind === 'audit' ? `${json}\n` : `{"stream":"${kind}",${json.slice(1)}\n`);
  }

  /** Says how many were dropped, once there is room again. */
  catchUp(max: number): void {
    if (this.dropped === 0 || this.res.writableLength > max / 2) return;
    const n = this.dropped;
    this.dropped = 0;
    this.send('dropped', JSON.stringify({ dropped: n }));
  }
}

export class AuditStream {
  private readonly subs = new Set<Subscriber>();
  private readonly max: number;
  private keepalive: NodeJS.Timeout | null = null;

  constructor(private readonly cfg: AuditStreamConfig) {
    this.max = cfg.maxBufferedBytes ?? 1024 * 1024;
  }

  get subscribers(): number {
    return this.subs.size;
  }

  /** Serves one subscriber until it goes away; a bad query is a 400 naming the parameter. */
  handle(req: IncomingMessage, res: ServerResponse, query: URLSearchParams): void {
    let filter: AuditFilter;
    try {
      filter = parseAuditFilter(query);
    } catch (e) {
      if (!(e instanceof ValueError)) throw e;
      res.writeHead(400, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
      return void res.end(`bad request: ${e.message}\n`);
    }
    const format: Format = query.get('format') === 'jsonl' ? 'jsonl' : 'sse';
    res.writeHead(200, {
      'content-type': format === 'sse' ? 'text/event-stream; charset=utf-8' : 'application/x-ndjson',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    if (req.method === 'HEAD') return void res.end();
    res.socket?.setNoDelay(true);
    const sub = new Subscriber(res, filter, format);
    this.subs.add(sub);
    this.cfg.onSubscribers?.(1);
    res.on('drain', () => sub.catchUp(this.max));
    res.once('close', () => {
      if (this.subs.delete(sub)) this.cfg.onSubscribers?.(-1);
      if (this.subs.size === 0) this.stopKeepalive();
    });
    sub.send('subscribed', JSON.stringify({ proxy: this.cfg.identity(), filter: describe(filter) }));
    this.startKeepalive();
  }

  /** Offers one record to every subscriber. Never waits. */
  publish(record: AuditRecordV1, json: string): void {
    for (const sub of this.subs) {
      if (!matchesFilter(record, sub.filter)) continue;
      if (sub.res.writableLength > this.max) {
        sub.dropped++;
        this.cfg.onDropped?.();
        continue;
      }
      sub.catchUp(this.max);
      sub.send('audit', json);
    }
  }

  closeAll(): void {
    for (const sub of this.subs) sub.res.end();
    this.stopKeepalive();
  }

  private startKeepalive(): void {
    if (this.keepalive) return;
    this.keepalive = setInterval(() => {
      for (const sub of this.subs) if (sub.res.writableLength <= this.max) sub.res.write(sub.format === 'sse' ? ': keepalive\n\n' : '\n');
    }, this.cfg.keepaliveMs ?? 15_000);
    this.keepalive.unref();
  }

  private stopKeepalive(): void {
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = null;
  }
}

function describe(f: AuditFilter): Record<string, unknown> {
  return { identity: f.identity ?? null, port: f.port ?? null, decision: f.decision ?? null, would_deny: f.wouldDeny === true };
}
