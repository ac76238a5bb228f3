/**
 * The admin HTTP listener shared by every Lanyard process: `/live`, `/ready`, `/metrics`,
 * plus routes a component adds (the proxy's `/identity` and its app probes). Plain HTTP on a port that is
 * never redirected into the mesh.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from './metrics.js';

export interface ReadyState {
  ready: boolean;
  /** Shown in the /ready body when not ready. */
  reason?: string;
}

export interface AdminServerConfig {
  host: string;
  port: number;
  registry: Registry;
  ready: () => ReadyState;
  /** Extra GET routes, path -> JSON body. */
  routes?: Record<string, () => unknown>;
  /** Extra GET routes whose handler picks the status: path -> plain-text answer (the proxy's app probes). */
  textRoutes?: ReadonlyMap<string, () => Promise<{ code: number; body: string }>>;
  /** GET routes that answer themselves (a stream that stays open): path -> handler. */
  streams?: Record<string, (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => void>;
}

export class AdminServer {
  private server: Server | null = null;

  constructor(private readonly cfg: AdminServerConfig) {}

  async start(): Promise<AddressInfo> {
    const server = createServer((req, res) => void this.handle(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.cfg.port, this.cfg.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return server.address() as AddressInfo;
  }

  address(): AddressInfo | null {
    return (this.server?.address() as AddressInfo | null) ?? null;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    const path = url.pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    try {
      if (path === '/live') return send(res, 200, 'text/plain', 'live\n');
      if (path === '/ready') {
        const r = this.cfg.ready();
        return r.ready ? send(res, 200, 'text/plain', 'ready\n') : send(res, 503, 'text/plain', `not ready: ${r.reason ?? 'starting'}\n`);
      }
      if (path === '/metrics') return send(res, 200, this.cfg.registry.contentType, await this.cfg.registry.metrics());
      const stream = this.cfg.streams?.[path];
      if (stream) return stream(req, res, url.searchParams);
      const route = this.cfg.routes?.[path];
      if (route) return send(res, 200, 'application/json', JSON.stringify(route(), null, 2) + '\n');
      const text = this.cfg.textRoutes?.get(path);
      if (text) {
        const answer = await text();
        return send(res, answer.code, 'text/plain', answer.body);
      }
      return send(res, 404, 'text/plain', 'not found\n');
    } catch (e) {
      return send(res, 500, 'text/plain', `error: ${(e as Error).message}\n`);
    }
  }
}

function send(res: ServerResponse, code: number, type: string, body: string): void {
  res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(body);
}
