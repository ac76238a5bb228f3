/**
 * `lanyard demo`: the identity service, a `web` workload calling an `api` workload through
 * their proxies over mutual TLS, and an `intruder` identity that api's policy denies. Prints
 * the successful call with both identities, the denied call with its reason, and stops every
 * process it started. Each process's output goes to `<name>.log` in the demo's directory,
 * which `--keep` keeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request, type Server } from 'node:http';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { Command } from 'commander';
import { mintDevToken } from '../identity/validators/dev-token.js';
import { TrustDomain } from '../pki/names.js';
import { OperationError, outputOption, printResult } from './cli-conventions.js';
import { flagOption } from './cli-options.js';
import { cliEntry, packageRoot } from './paths.js';
import { readDevSigningKey } from './token.js';

type Log = Record<string, unknown>;

interface Child {
  name: string;
  proc: ChildProcess;
  logs: Log[];
  /** `<dir>/<name>.log`: everything the process wrote, stdout and stderr. */
  logFile: string;
  closed: Promise<void>;
  waitFor(match: Log, timeoutMs?: number): Promise<Log>;
}

/** What the demo showed, for `--output json`. */
interface DemoResult {
  dir: string | null;
  identityService: { addr: string; identity: string };
  allowed: { from: string; to: string; response: string; seenByApi: Log; seenByWeb: Log };
  denied: { from: string; to: string; response: string; decision: unknown; rule: unknown; reason: unknown };
  processesStopped: number;
  /** Per process, its log file; only with --keep (otherwise the files are gone). */
  logs: Record<string, string> | null;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('run a small mesh on loopback: identity service, web → api over mTLS, and a denied intruder; then stop it all')
    .addOption(flagOption('--keep', 'keep the temporary directory (PKI, tokens, policy and each process\'s <name>.log) for inspection'))
    .addOption(outputOption())
    .action(async (o: { keep?: boolean; output: string }) => runDemo(!!o.keep, o.output));
}

async function runDemo(keep: boolean, format: string): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-demo-'));
  const children: Child[] = [];
  const servers: Server[] = [];
  const cleanup = async () => {
    await Promise.all(children.map((c) => stop(c.proc)));
    await Promise.all(servers.map((s) => new Promise<void>((r) => (s.closeAllConnections(), s.close(() => r())))));
    await Promise.all(children.map((c) => c.closed));
    if (!keep) rmSync(dir, { recursive: true, force: true });
  };
  const onSignal = () => void cleanup().then(() => process.exit(130));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const text = format !== 'json';
  let result: Omit<DemoResult, 'dir' | 'processesStopped' | 'logs'>;
  try {
    result = await demo(dir, children, servers, text ? (s) => process.stdout.write(s + '\n') : () => undefined);
  } catch (e) {
    const logs = keep ? ` (logs in ${dir})` : '; run with --keep to keep the logs';
    throw new OperationError(`demo failed: ${(e as Error).message}${logs}`);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await cleanup();
  }
  const logs = keep ? Object.fromEntries(children.map((c) => [c.name, c.logFile])) : null;
  printResult(format, { ...result, dir: keep ? dir : null, processesStopped: children.length, logs }, () =>
    `\nDone: ${children.length} processes stopped${keep ? `; files kept in ${dir} (logs: ${children.map((c) => `${c.name}.log`).join(', ')})` : ''}.`,
  );
}

async function demo(dir: string, children: Child[], servers: Server[], out: (s: string) => void): Promise<Omit<DemoResult, 'dir' | 'processesStopped' | 'logs'>> {
  const td = new TrustDomain();
  const id = (sa: string) => td.identity({ namespace: 'default', serviceAccount: sa });
  const pki = join(dir, 'pki');

  out('Lanyard demo: an identity service and three workloads on loopback.\n');
  const identity = start(dir, children, 'identity', ['identity', '--issuer-dir', pki, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0'], {});
  const listening = await identity.waitFor({ msg: 'identity service listening' });
  out(`  identity service  ${String(listening.addr)}  (development PKI in ${pki})`);

  const { keyPem, kid } = readDevSigningKey(pki);
  const tokenFile = async (sa: string) => {
    const f = join(dir, `${sa}.token`);
    writeFileSync(f, await mintDevToken({ keyPem, kid, namespace: 'default', serviceAccount: sa }), { mode: 0o600 });
    return f;
  };
  const apiApp = await app(servers, (req) => `hello from api (you asked for ${req})\n`);
  const policy = join(dir, 'api-policy.yaml');
  writeFileSync(policy, `default: deny\nports:\n  "${apiApp}":\n    allow:\n      - identities: ["${id('web')}"]\n`);
  const common = (sa: string) => ({
    LANYARD_PROXY_IDENTITY_ADDR: String(listening.addr),
    LANYARD_PROXY_TRUST_ANCHORS: join(pki, 'ca.crt'),
    LANYARD_PROXY_LOCAL_IDENTITY: id(sa),
    LANYARD_PROXY_INBOUND_ADDR: '127.0.0.1:0',
    LANYARD_PROXY_OUTBOUND_ADDR: '127.0.0.1:0',
    LANYARD_PROXY_ADMIN_ADDR: '127.0.0.1:0',
  });
  const api = start(dir, children, 'api', ['proxy'], { ...common('api'), LANYARD_PROXY_TOKEN_FILE: await tokenFile('api'), LANYARD_PROXY_APP_PORT: String(apiApp), LANYARD_PROXY_POLICY_FILE: policy });
  const apiReady = await api.waitFor({ event: 'proxy_ready' });
  const route = (sa: string) => ({
    ...common(sa),
    LANYARD_PROXY_TOKEN_FILE: '',
    LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: String(apiReady.inbound), identity: id('api') }]),
  });
  const web = start(dir, children, 'web', ['proxy'], { ...route('web'), LANYARD_PROXY_TOKEN_FILE: await tokenFile('web') });
  const intruder = start(dir, children, 'intruder', ['proxy'], { ...route('intruder'), LANYARD_PROXY_TOKEN_FILE: await tokenFile('intruder') });
  const [webReady, intruderReady] = await Promise.all([web.waitFor({ event: 'proxy_ready' }), intruder.waitFor({ event: 'proxy_ready' })]);
  out(`  api proxy         inbound ${String(apiReady.inbound)} → app 127.0.0.1:${apiApp}; policy: deny by default, port ${apiApp} allows only ${id('web')}`);
  out(`  web proxy         outbound ${(webReady.outbound as string[])[0]} → api over mTLS`);
  out(`  intruder proxy    outbound ${(intruderReady.outbound as string[])[0]} → api over mTLS\n`);

  out('1. web calls api');
  const ok = await get((webReady.outbound as string[])[0], '/orders');
  out(`   response: ${ok.trim()}`);
  const seenByApi = await api.waitFor({ event: 'connection', direction: 'inbound', peer_identity: id('web') });
  const seenByWeb = await web.waitFor({ event: 'connection', direction: 'outbound' });
  out(`   api's proxy saw: peer ${String(seenByApi.peer_identity)} (${String(seenByApi.peer_spiffe_id)}), TLS ${String(seenByApi.tls)}, ${String(seenByApi.decision)} by ${String(seenByApi.rule)}`);
  out(`   web's proxy saw: peer ${String(seenByWeb.peer_identity)}, verified, ${String(seenByWeb.bytes_tx)} bytes out / ${String(seenByWeb.bytes_rx)} in\n`);

  out('2. intruder calls api');
  const denied = await get((intruderReady.outbound as string[])[0], '/orders');
  out(`   response: ${denied.trim()}`);
  const refused = await api.waitFor({ event: 'connection', direction: 'inbound', peer_identity: id('intruder') });
  out(`   api's proxy ${String(refused.decision)} peer ${String(refused.peer_identity)}: rule ${String(refused.rule)}; ${String(refused.reason)}`);
  return {
    identityService: { addr: String(listening.addr), identity: String(listening.identity) },
    allowed: { from: id('web'), to: id('api'), response: ok.trim(), seenByApi, seenByWeb },
    denied: { from: id('intruder'), to: id('api'), response: denied.trim(), decision: refused.decision, rule: refused.rule, reason: refused.reason },
  };
}

function start(dir: string, children: Child[], name: string, args: string[], env: Record<string, string>): Child {
  const proc = spawn(process.execPath, [cliEntry(), ...args], { cwd: packageRoot(), env: { ...process.env, ...env, LANYARD_LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
  const logFile = join(dir, `${name}.log`);
  const file: WriteStream = createWriteStream(logFile, { mode: 0o600 });
  const closed = new Promise<void>((resolve) => {
    let open = 2;
    const done = () => --open === 0 && file.end(() => resolve());
    proc.stdout!.once('close', done);
    proc.stderr!.once('close', done);
  });
  const logs: Log[] = [];
  let buf = '';
  let stderr = '';
  const waiters = new Set<{ match: Log; resolve: (l: Log) => void }>();
  const matches = (l: Log, m: Log) => Object.entries(m).every(([k, v]) => l[k] === v);
  proc.stdout!.on('data', (d: Buffer) => {
    file.write(d);
    buf += d.toString();
    for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      try {
        const l = JSON.parse(line) as Log;
        logs.push(l);
        for (const w of waiters) if (matches(l, w.match)) (waiters.delete(w), w.resolve(l));
      } catch {
        // not a log line
      }
    }
  });
  proc.stderr!.on('data', (d: Buffer) => {
    file.write(d);
    stderr += d.toString();
  });
  const child: Child = {
    name,
    proc,
    logs,
    logFile,
    closed,
    waitFor(match, timeoutMs = 20_000) {
      const found = logs.find((l) => matches(l, match));
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${name}: timed out waiting for ${JSON.stringify(match)}\n${stderr}`)), timeoutMs);
        waiters.add({ match, resolve: (l) => (clearTimeout(timer), resolve(l)) });
        proc.once('exit', (code) => (clearTimeout(timer), reject(new Error(`${name} exited (${code}) before ${JSON.stringify(match)}\n${stderr}`))));
      });
    },
  };
  children.push(child);
  return child;
}

async function app(servers: Server[], body: (path: string) => string): Promise<number> {
  const server = createServer((req, res) => res.end(body(req.url ?? '/')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

function get(hostPort: string, path: string): Promise<string> {
  const [host, port] = [hostPort.slice(0, hostPort.lastIndexOf(':')), Number(hostPort.slice(hostPort.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const req = request({ host, port, path, agent: false, timeout: 5000 }, (res) => {
      let data = '';
      res.on('data', (d: Buffer) => (data += d));
      res.on('end', () => resolve(`HTTP ${res.statusCode}: ${data}`));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(`refused (${e.code ?? e.message})`));
    req.end();
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}
