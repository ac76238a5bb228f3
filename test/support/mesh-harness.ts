/**
 * A small mesh on loopback for integration tests: the real identity service (in-process),
 * real `lanyard proxy` processes, and tiny HTTP applications. Every port is ephemeral;
 * proxies report theirs in the `proxy_ready` log line.
 */
import 'reflect-metadata';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes, webcrypto, type KeyObject, type X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { createServer, request, type Server } from 'node:http';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tcpConnect, createServer as createTcpServer, type AddressInfo, type Server as TcpServer, type Socket } from 'node:net';
import { encodePem } from '../../src/pki/pem.js';
import { ecPublicKeyOf } from '../../src/pki/ec-key.js';
import { LeafSigner } from '../../src/pki/leaf-signer.js';
import { detectProtocol } from '../../proxy/tls/client-hello.js';
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
  /** Resident set size of the process (VmRSS), in bytes. */
  rssBytes(): number;
  /** Resolves once `proxy_ready` was logged and the ports above are filled in. */
  ready: Promise<void>;
  /** True while the process has not exited. */
  alive(): boolean;
  stop(): Promise<void>;
}

export interface StartProxyOptions {
  name: string;
  ns?: string;
  sa: string;
  env?: Record<string, string>;
  /** Resolve before the proxy is ready (for tests of the waiting state). */
  noWait?: boolean;
  /** Run it through proxy/bin/lanyard-proxy (the sidecar's node and malloc settings), as deployed. */
  launcher?: boolean;
}

export class Mesh {
  private readonly procs: ProxyProcess[] = [];
  private readonly servers: Server[] = [];
  private readonly tcpServers: { server: TcpServer; sockets: Set<Socket> }[] = [];

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

  /**
   * A raw TCP application: `onConnection` gets every accepted socket; what each connection
   * sent is recorded in `received`. Unless `allowHalfOpen`, a connection is closed when
   * its peer half-closes (node's default).
   */
  async tcpApp(onConnection: (socket: Socket, index: number) => void = () => undefined, o: { allowHalfOpen?: boolean } = {}): Promise<TcpApp> {
    const sockets = new Set<Socket>();
    const received: Buffer[][] = [];
    const server = createTcpServer({ allowHalfOpen: o.allowHalfOpen ?? false }, (socket) => {
      const chunks: Buffer[] = [];
      received.push(chunks);
      sockets.add(socket);
      socket.on('data', (c: Buffer) => chunks.push(c));
      socket.on('error', () => undefined);
      socket.once('close', () => sockets.delete(socket));
      onConnection(socket, received.length - 1);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    this.tcpServers.push({ server, sockets });
    return { port: (server.address() as AddressInfo).port, received, sockets, bytes: (i) => Buffer.concat(received[i] ?? []) };
  }

  /**
   * `api` in front of the app on `appPort`, and `web` whose first outbound route carries
   * mTLS to api's inbound port.
   */
  async pair(o: { appPort: number; apiEnv?: Record<string, string>; webEnv?: Record<string, string> }): Promise<{ api: ProxyProcess; web: ProxyProcess }> {
    const api = await this.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(o.appPort), ...o.apiEnv } });
    const web = await this.proxy({
      name: 'web',
      sa: 'web',
      env: { LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: identityOf('default', 'api') }]), ...o.webEnv },
    });
    return { api, web };
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
    const p = spawnProxy(o.name, env, o.launcher ? [join(ROOT, 'proxy', 'bin', 'lanyard-proxy')] : undefined);
    this.procs.push(p.proc);
    if (!o.noWait) await p.ready;
    return p.proc;
  }

  async stop(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop()));
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r())))));
    for (const t of this.tcpServers) for (const s of t.sockets) s.destroy();
    await Promise.all(this.tcpServers.map((t) => new Promise<void>((r) => t.server.close(() => r()))));
    await this.identity.stop();
  }
}

export function spawnProxy(name: string, env: Record<string, string>, argv?: string[]): { proc: ProxyProcess; ready: Promise<void> } {
  const [cmd, ...args] = argv ?? [process.execPath, CLI, 'proxy'];
  const child = spawn(cmd, args, { env: argv ? { LANYARD_NODE: process.execPath, ...env } : env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
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
    rssBytes: () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) * 1024,
    ready: Promise.resolve(),
    alive: () => child.exitCode === null && child.signalCode === null,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      // The proxy drains open connections on SIGTERM without a bound; a test must not hang on one.
      const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(kill);
    },
  };
  const ready = proc.waitForLog({ event: 'proxy_ready' }, 20_000).then((l) => {
    const port = (s: unknown) => Number(String(s).split(':').pop());
    proc.inbound = port(l.inbound);
    proc.outbound = (l.outbound as string[]).map(port);
    proc.admin = port(l.admin);
  });
  proc.ready = ready;
  ready.catch(() => undefined); // awaited by whoever needs it; an exit before ready must not be unhandled
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

export interface TcpApp {
  port: number;
  /** Chunks received, per connection in accept order. */
  received: Buffer[][];
  /** Connections open now. */
  sockets: Set<Socket>;
  bytes(connection: number): Buffer;
}

/** A port that was free a moment ago (listen on 0, read it, close), for a service started later. */
export async function freePort(): Promise<number> {
  const s = createTcpServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Polls `cond` every 20 ms until it holds; rejects after `timeoutMs` naming `what`. */
export async function waitUntil(cond: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The sum of every series of `name` whose labels include `labels` (0 when none), e.g. tcp_open_connections{direction="inbound"}. */
export async function metricSum(adminPort: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(',');
    if (want.every((w) => have.includes(w))) sum += Number(m[3]);
  }
  return sum;
}

/** Connections, streams and sessions open now in `direction` (Linkerd's tcp_open_connections, summed). */
export const openConnections = (adminPort: number, direction: 'inbound' | 'outbound'): Promise<number> => metricSum(adminPort, 'tcp_open_connections', { direction });

/** One sample from the proxy's /metrics, e.g. metric(admin, 'lanyard_proxy_inbound_detect_total', { outcome: 'timeout' }); 0 when absent. */
export async function metric(adminPort: number, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(',');
    if (want.every((w) => have.includes(w))) return Number(m[3]);
  }
  return 0;
}

export interface LeafPem {
  certPem: string;
  keyPem: string;
  /** The issuer's certificate, PEM (for a client's -cert_chain). */
  chainPem: string;
}

/**
 * A workload leaf for `identity` signed directly by an issuer (the mesh's, or a foreign
 * test CA's), with any validity window: for clients and servers the identity service
 * would never certify (expired, not yet valid, from another anchor).
 */
export async function workloadLeaf(o: { issuerCert: X509Certificate; issuerKey: KeyObject; ns: string; sa: string; notBefore?: Date; notAfter?: Date }): Promise<LeafPem> {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = new LeafSigner(o.issuerCert.raw, o.issuerKey);
  const { der } = await signer.sign({
    key: ecPublicKeyOf(kp.publicKey),
    dnsName: identityOf(o.ns, o.sa),
    spiffeId: `spiffe://cluster.local/ns/${o.ns}/sa/${o.sa}`,
    notBefore: o.notBefore ?? new Date(Date.now() - 60_000),
    notAfter: o.notAfter ?? new Date(Date.now() + 3_600_000),
  });
  return { certPem: encodePem('CERTIFICATE', der), keyPem: (kp.privateKey as KeyObject).export({ format: 'pem', type: 'pkcs8' }).toString(), chainPem: o.issuerCert.toString() };
}

/**
 * A client leaf the identity service would never issue, signed by `issuerCert`: any DNS and
 * URI SANs (SPIFFE-only, DNS and SPIFFE naming different accounts), or CA:TRUE.
 */
export async function unusualLeaf(o: { issuerCert: X509Certificate; issuerKey: KeyObject; dns?: string[]; uris?: string[]; ca?: boolean }): Promise<LeafPem> {
  const crypto = webcrypto as unknown as webcrypto.Crypto;
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const signingKey = await crypto.subtle.importKey('pkcs8', o.issuerKey.export({ format: 'der', type: 'pkcs8' }), { name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
  const names = [...(o.dns ?? []).map((value) => ({ type: 'dns' as const, value })), ...(o.uris ?? []).map((value) => ({ type: 'url' as const, value }))];
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomBytes(16).toString('hex').replace(/^[89a-f]/, '1'),
      subject: [],
      issuer: new x509.X509Certificate(o.issuerCert.raw).subjectName,
      notBefore: new Date(Date.now() - 60_000),
      notAfter: new Date(Date.now() + 3_600_000),
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm: alg,
      extensions: [
        new x509.SubjectAlternativeNameExtension(names, true),
        new x509.BasicConstraintsExtension(o.ca === true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | (o.ca ? x509.KeyUsageFlags.keyCertSign : 0), true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth, x509.ExtendedKeyUsage.serverAuth]),
        await x509.AuthorityKeyIdentifierExtension.create(new x509.X509Certificate(o.issuerCert.raw), false, crypto),
      ],
    },
    crypto,
  );
  const keyDer = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: cert.toString('pem') + '\n', keyPem: encodePem('PRIVATE KEY', keyDer), chainPem: o.issuerCert.toString() };
}

export interface OpensslResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** True when the process was still running at `timeoutMs` and was killed. */
  timedOut: boolean;
}

/**
 * Runs `openssl <args>` (s_client, s_server) with stdin open after `input`. With `until`,
 * stdin is closed and the process stopped once it resolves; without, the process runs
 * until it exits by itself (a peer that tears the connection down). Either way it is
 * killed after `timeoutMs`.
 */
export function openssl(args: string[], o: { input?: string | Buffer; until?: (p: ChildProcess) => Promise<unknown>; timeoutMs?: number } = {}): Promise<OpensslResult> {
  const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let timedOut = false;
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString('latin1')));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('latin1')));
  child.stdin!.on('error', () => undefined);
  if (o.input !== undefined) child.stdin!.write(o.input);
  const kill = setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), o.timeoutMs ?? 10_000);
  const exited = new Promise<OpensslResult>((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(kill);
      resolve({ code, stdout, stderr, timedOut });
    }),
  );
  if (o.until) {
    void Promise.race([o.until(child).catch(() => undefined), exited]).then(() => {
      child.stdin!.end();
      // s_client may keep reading from the server after stdin ends; give it a moment, then stop it.
      setTimeout(() => child.kill('SIGTERM'), 300).unref();
    });
  }
  return exited;
}

export interface TcpExchange {
  /** Everything the server sent before the connection closed. */
  data: Buffer;
  /** How it closed: `end` (FIN), an error code such as `ECONNRESET`, or `timeout`. */
  closed: string;
}

/**
 * Connects to 127.0.0.1:port, writes `payload` (then half-closes when `end`), and collects
 * what comes back until the connection closes or `timeoutMs` passes.
 */
export function tcpExchange(port: number, payload: Buffer | string, o: { end?: boolean; timeoutMs?: number } = {}): Promise<TcpExchange> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let closed = 'end';
    const socket = tcpConnect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const timer = setTimeout(() => ((closed = 'timeout'), socket.destroy()), o.timeoutMs ?? 5000);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => socket.end());
    socket.on('error', (e: NodeJS.ErrnoException) => (closed = e.code ?? e.message));
    socket.once('close', () => (clearTimeout(timer), resolve({ data: Buffer.concat(chunks), closed })));
    socket.write(payload);
    if (o.end) socket.end();
  });
}

/**
 * The first flight a real node:tls client sends (its ClientHello records, exactly as on
 * the wire), captured by a listener that never answers.
 */
export async function captureClientHello(opts: ConnectionOptions = {}): Promise<Buffer> {
  let resolveHello!: (b: Buffer) => void;
  const hello = new Promise<Buffer>((r) => (resolveHello = r));
  const server = createTcpServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      if (detectProtocol(buf).kind !== 'need-more') (resolveHello(buf), s.destroy());
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const client = tlsConnect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, rejectUnauthorized: false, ...opts });
  client.on('error', () => undefined);
  try {
    return await hello;
  } finally {
    client.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** Waits until `proc` has logged `n` lines matching `match`; resolves the n-th. */
export async function nthLog(proc: ProxyProcess, match: LogLine, n: number, timeoutMs = 15_000): Promise<LogLine> {
  await waitUntil(() => proc.where(match).length >= n, `${proc.name}: log line #${n} matching ${JSON.stringify(match)}`, timeoutMs);
  return proc.where(match)[n - 1];
}

/** Connects to 127.0.0.1:port and closes at once: `connected`, or the error code (ECONNREFUSED). */
export function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve('connected')));
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}
