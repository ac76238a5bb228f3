/**
 * A small mesh on loopback for integration tests: the real identity service (in-process),
 * real `lanyard proxy` processes, and tiny HTTP applications. Every port is ephemeral;
 * proxies report theirs in the `proxy_ready` log line.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { CLI, ROOT } from './cli.js';
import { startIdentity, type HarnessOptions, type IdentityHarness } from './identity-harness.js';

export const identityOf = (ns: string, sa: string): string => `${sa}.${ns}.serviceaccount.identity.lanyard.cluster.local`;

export type LogLine = Record<string, unknown>;

export interface ProxyProcess {
  name: string;
  child: ChildProcess;
  logs: LogLine[];
  inbound: number;
  outbound: number[];
  admin: number;
  /** Waits for a log line matching every field. */
  waitForLog(match: LogLine, timeoutMs?: number): Promise<LogLine>;
  where(match: LogLine): LogLine[];
  openFds(): number;
  stop(): Promise<void>;
}

export interface StartProxyOptions {
  name: string;
  ns?: string;
  sa: string;
  env?: Record<string, string>;
  /** Resolve before the proxy is ready (for tests of the waiting state). */
  noWait?: boolean;
}

export class Mesh {
  private readonly procs: ProxyProcess[] = [];
  private readonly servers: Server[] = [];

  private constructor(readonly identity: IdentityHarness) {}

  static async start(opts: HarnessOptions = {}): Promise<Mesh> {
    return new Mesh(await startIdentity(opts));
  }

  get dir(): string {
    return this.identity.dir;
  }

  async tokenFile(ns: string, sa: string, opts: { ttlMs?: number } = {}): Promise<string> {
    const path = join(this.dir, `${ns}-${sa}.token`);
    writeFileSync(path, await this.identity.tokens.mint(ns, sa, { ttlMs: opts.ttlMs ?? 3_600_000 }));
    return path;
  }

  anchorsFile(): string {
    const path = join(this.dir, 'anchors.pem');
    writeFileSync(path, this.identity.pki.anchor.certPem);
    return path;
  }

  /** An HTTP app answering `<name>: <method> <url>` (and echoing POST bodies). */
  async app(name: string): Promise<number> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.setHeader('x-app', name);
        res.end(req.method === 'POST' ? body : `${name}: ${req.method} ${req.url}\n`);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.servers.push(server);
    return (server.address() as AddressInfo).port;
  }

  async proxy(o: StartProxyOptions): Promise<ProxyProcess> {
    const ns = o.ns ?? 'default';
    const env: Record<string, string> = {
      ...process.env,
      LANYARD_PROXY_IDENTITY_ADDR: `127.0.0.1:${this.identity.port}`,
      LANYARD_PROXY_TRUST_ANCHORS: this.anchorsFile(),
      LANYARD_PROXY_LOCAL_IDENTITY: identityOf(ns, o.sa),
      LANYARD_PROXY_TOKEN_FILE: await this.tokenFile(ns, o.sa),
      LANYARD_PROXY_INBOUND_ADDR: '127.0.0.1:0',
      LANYARD_PROXY_OUTBOUND_ADDR: '127.0.0.1:0',
      LANYARD_PROXY_ADMIN_ADDR: '127.0.0.1:0',
      LANYARD_LOG_LEVEL: 'debug',
      ...o.env,
    };
    const p = spawnProxy(o.name, env);
    this.procs.push(p.proc);
    if (!o.noWait) await p.ready;
    return p.proc;
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r())))));
    await this.identity.stop();
  }
}

export function spawnProxy(name: string, env: Record<string, string>): { proc: ProxyProcess; ready: Promise<void> } {
  const child = spawn(process.execPath, [CLI, 'proxy'], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  const waiters: { match: LogLine; resolve: (l: LogLine) => void }[] = [];
  let buf = '';
  let stderr = '';
  const matches = (l: LogLine, m: LogLine) => Object.entries(m).every(([k, v]) => l[k] === v);
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (!line.trim()) continue;
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        parsed = { raw: line };
      }
      logs.push(parsed);
      for (const w of [...waiters]) if (matches(parsed, w.match)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(parsed));
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const proc: ProxyProcess = {
    name,
    child,
    logs,
    inbound: 0,
    outbound: [],
    admin: 0,
    waitForLog(match, timeoutMs = 15_000) {
      const found = logs.find((l) => matches(l, match));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`${name}: no log line ${JSON.stringify(match)} within ${timeoutMs} ms; stderr: ${stderr}`)), timeoutMs);
        waiters.push({ match, resolve: (l) => (clearTimeout(t), resolve(l)) });
        void exited.then(() => {
          clearTimeout(t);
          reject(new Error(`${name} exited before ${JSON.stringify(match)}; stderr: ${stderr}`));
        });
      });
    },
    where: (m) => logs.filter((l) => matches(l, m)),
    openFds: () => readdirSync(`/proc/${child.pid}/fd`).length,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  const ready = proc.waitForLog({ event: 'proxy_ready' }, 20_000).then((l) => {
    const port = (s: unknown) => Number(String(s).split(':').pop());
    proc.inbound = port(l.inbound);
    proc.outbound = (l.outbound as string[]).map(port);
    proc.admin = port(l.admin);
  });
  return { proc, ready };
}

/** A GET (or POST) through plain HTTP to 127.0.0.1:port; resolves status and body. */
export function httpGet(port: number, path = '/', opts: { method?: string; body?: Buffer | string; timeoutMs?: number; agent?: false } = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', agent: false, timeout: opts.timeoutMs ?? 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(opts.body);
  });
}

export async function adminJson(port: number, path: string): Promise<Record<string, unknown>> {
  return (await (await fetch(`http://127.0.0.1:${port}${path}`)).json()) as Record<string, unknown>;
}
