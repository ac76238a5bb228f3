/**
 * `lanyard dashboard`: a small local web server that draws the identity graph of the
 * proxies it reads, live. Every `intervalMs` it reads their `/edges` (the same report as
 * `lanyard edges`) and it taps their `/audit` for the recent records of each edge. The
 * page (plain HTML, JS and SVG from src/audit/page, nothing from elsewhere: the
 * Content-Security-Policy allows only this origin) follows `/api/stream`.
 *
 *   /                 the page
 *   /api/graph        the current report (JSON)
 *   /api/events?client=&server=&port=   an edge's recent records, newest first
 *   /api/stream       server-sent events: `graph` (each report), `audit` ({edge, record})
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { AuditRecordV1 } from '../telemetry/audit-record.js';
import { tapProxy, type Tap } from './admin-client.js';
import { collectEdges, type EdgeReport } from './edge-report.js';
import type { ProxySource } from './proxy-sources.js';
import { RecentEvents } from './recent-events.js';

export interface DashboardConfig {
  host: string;
  port: number;
  /** The proxies to read, asked again at every refresh (pods come and go). */
  sources: () => Promise<ProxySource[]>;
  /** How often the graph is re-read. */
  intervalMs: number;
  /** Bound on reading each proxy. */
  timeoutMs: number;
  /** Where index.html, dashboard.js and dashboard.css are. */
  pageDir: string;
  /** Told of sources that cannot be read or tapped. */
  note?: (message: string) => void;
}

const PAGE: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
};

/** Nothing but this origin: no CDN, no inline script, no frame around it. */
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/** Unsent bytes per page before its live updates are skipped (it catches up with the next graph). */
const MAX_PAGE_BUFFER = 1024 * 1024;

export class DashboardServer {
  private server: Server | null = null;
  private report: EdgeReport | null = null;
  private readonly recent = new RecentEvents();
  private readonly taps = new Map<string, Tap>();
  private readonly pages = new Set<ServerResponse>();
  private readonly files = new Map<string, Buffer>();
  private timer: NodeJS.Timeout | null = null;
  private refreshing: Promise<void> | null = null;
  private speaksFor = new Set<string>();
  private stopped = false;

  constructor(private readonly cfg: DashboardConfig) {}

  /** Reads the page files (a missing one fails here, not on the first visit), listens, and reads the proxies once. */
  async start(): Promise<AddressInfo> {
    for (const [file] of Object.values(PAGE)) this.files.set(file, readFileSync(join(this.cfg.pageDir, file)));
    const server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.cfg.port, this.cfg.host, () => (server.off('error', reject), resolve()));
    });
    this.server = server;
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.cfg.intervalMs);
    return server.address() as AddressInfo;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const t of this.taps.values()) t.close();
    this.taps.clear();
    await this.refreshing;
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** One read of every source; overlapping calls share it. */
  refresh(): Promise<void> {
    this.refreshing ??= this.readOnce().finally(() => (this.refreshing = null));
    return this.refreshing;
  }

  private async readOnce(): Promise<void> {
    let sources: ProxySource[];
    try {
      sources = await this.cfg.sources();
    } catch (e) {
      return this.cfg.note?.(`cannot find the proxies: ${(e as Error).message}`);
    }
    const report = await collectEdges(sources, this.cfg.timeoutMs);
    if (this.stopped) return;
    this.report = report;
    this.speaksFor = new Set(report.sources.flatMap((s) => (s.identity ? [s.identity] : [])));
    this.syncTaps(sources);
    this.broadcast('graph', JSON.stringify(report));
  }

  /** One tap per source; a source that left is untapped, one whose tap ended is tapped again at the next refresh. */
  private syncTaps(sources: ProxySource[]): void {
    const wanted = new Map(sources.map((s) => [s.admin, s]));
    for (const [admin, tap] of this.taps) {
      if (!wanted.has(admin)) (tap.close(), this.taps.delete(admin));
    }
    for (const [admin, source] of wanted) {
      if (this.taps.has(admin)) continue;
      const tap = tapProxy(source, {}, {
        onRecord: (r) => this.onRecord(r),
        onEnd: (err) => {
          if (this.taps.get(admin) === tap) this.taps.delete(admin);
          if (err && !this.stopped) this.cfg.note?.(err.message);
        },
      }, { connectTimeoutMs: this.cfg.timeoutMs });
      this.taps.set(admin, tap);
    }
  }

  private onRecord(r: AuditRecordV1): void {
    const edge = this.recent.add(r, this.speaksFor);
    if (edge) this.broadcast('audit', JSON.stringify({ edge, record: r }));
  }

  private broadcast(event: string, json: string): void {
    for (const res of this.pages) if (res.writableLength <= MAX_PAGE_BUFFER) res.write(`event: ${event}\ndata: ${json}\n\n`);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://dashboard');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    const page = PAGE[url.pathname];
    if (page) return send(res, 200, page[1], this.files.get(page[0])!);
    // Browsers ask for an icon whatever the page says; no icon, and no 404 in their console.
    if (url.pathname === '/favicon.ico') return void res.writeHead(204, { 'cache-control': 'max-age=86400' }).end();
    if (url.pathname === '/api/graph') return send(res, 200, 'application/json', JSON.stringify(this.report));
    if (url.pathname === '/api/events') return this.events(url.searchParams, res);
    if (url.pathname === '/api/stream') return this.stream(res);
    return send(res, 404, 'text/plain', 'not found\n');
  }

  private events(q: URLSearchParams, res: ServerResponse): void {
    const port = Number(q.get('port'));
    const client = q.get('client');
    const server = q.get('server');
    if (!client || !server || !Number.isInteger(port)) return send(res, 400, 'text/plain', 'client, server and port are required\n');
    send(res, 200, 'application/json', JSON.stringify({ edge: { client, server, port }, events: this.recent.of({ client, server, port }) }));
  }

  private stream(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': CSP });
    this.pages.add(res);
    res.once('close', () => this.pages.delete(res));
    if (this.report) res.write(`event: graph\ndata: ${JSON.stringify(this.report)}\n\n`);
  }
}

function send(res: ServerResponse, code: number, type: string, body: string | Buffer): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store', 'content-security-policy': CSP, 'x-content-type-options': 'nosniff' });
  res.end(body);
}
