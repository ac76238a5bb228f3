/**
 * A meshed cluster in network namespaces for the end-to-end tests: a control-plane
 * namespace (identity service, discovery with the Kubernetes source, the fake API server),
 * and pods with an HTTP app, `lanyard proxy-init` rules and a transparent proxy running as
 * its own UID — or no proxy at all for an unmeshed pod.
 */
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { CLI, ROOT } from '../../support/cli.js';
import { meshedPod } from '../../support/pods.js';
import { sh, Topology, type Pod } from './netns.js';

export type Log = Record<string, unknown>;

export class LogStream {
  readonly lines: Log[] = [];
  private buf = '';
  private readonly waiters = new Set<{ m: Log; resolve: (l: Log) => void }>();

  constructor(readonly name: string, child: ChildProcess) {
    child.stdout!.on('data', (d: Buffer) => this.feed(d.toString()));
    child.stderr!.on('data', (d: Buffer) => this.feed(d.toString()));
  }

  where(m: Log): Log[] {
    return this.lines.filter((l) => Object.entries(m).every(([k, v]) => l[k] === v));
  }

  waitFor(m: Log, timeoutMs = 20_000): Promise<Log> {
    const found = this.where(m)[0];
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const w = { m, resolve: (l: Log) => (clearTimeout(t), resolve(l)) };
      const t = setTimeout(() => (this.waiters.delete(w), reject(new Error(`${this.name}: no line ${JSON.stringify(m)} in ${timeoutMs} ms; last lines:\n${this.tail()}`))), timeoutMs);
      this.waiters.add(w);
    });
  }

  /** Waits for the first line (already seen or future) for which `pred` holds. */
  async waitUntil(pred: (l: Log) => boolean, timeoutMs = 20_000): Promise<Log> {
    for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      const found = this.lines.find(pred);
      if (found) return found;
    }
    throw new Error(`${this.name}: no matching line in ${timeoutMs} ms; last lines:\n${this.tail()}`);
  }

  tail(n = 15): string {
    return this.lines.slice(-n).map((l) => JSON.stringify(l)).join('\n');
  }

  private feed(s: string): void {
    this.buf += s;
    for (let nl = this.buf.indexOf('\n'); nl >= 0; nl = this.buf.indexOf('\n')) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (!line.trim()) continue;
      let l: Log;
      try {
        l = JSON.parse(line) as Log;
      } catch {
        l = { raw: line };
      }
      this.lines.push(l);
      for (const w of this.waiters) if (Object.entries(w.m).every(([k, v]) => l[k] === v)) (this.waiters.delete(w), w.resolve(l));
    }
  }
}

export const PROXY_UID = 2102;
export const identityOf = (sa: string, ns = 'default') => `${sa}.${ns}.serviceaccount.identity.lanyard.cluster.local`;
export const DISCOVERY_IDENTITY = identityOf('lanyard-discovery', 'lanyard');

export interface MeshPod extends Pod {
  sa: string | null;
  proxy: LogStream | null;
  app: LogStream;
}

// Listens on 8080 (meshed) and 8081 (ignored by the benchmark's rules: direct traffic).
const APP = `const h=(q,s)=>s.end(process.argv[1]+': '+q.method+' '+q.url+'\\n');const http=require('http');http.createServer(h).listen(8081,'0.0.0.0');http.createServer(h).listen(8080,'0.0.0.0',()=>console.log(JSON.stringify({app:'listening'})))`;

export class NamespaceMesh {
  readonly topo: Topology;
  readonly dir: string;
  ctl!: Pod;
  identity!: LogStream;
  discovery!: LogStream;
  private fakeApi!: ChildProcess;
  private fakeApiOut!: LogStream;

  constructor(prefix: string) {
    this.topo = new Topology(prefix);
    this.dir = mkdtempSync(join(tmpdir(), 'lanyard-e2e-'));
    chmodSync(this.dir, 0o755); // the proxies run as UID 2102 and read tokens and anchors here
  }

  /** `leafLifetimeMs`: below the CLI's 10-second floor, the identity service runs from short-leaf-identity-runner. */
  async startControlPlane(o: { leafLifetimeMs?: number } = {}): Promise<void> {
    this.topo.create();
    this.ctl = this.topo.pod('ctl', 2);
    const pki = join(this.dir, 'pki');
    const id = this.topo.spawn(
      this.ctl.netns,
      o.leafLifetimeMs === undefined
        ? [process.execPath, CLI, 'identity', '--issuer-dir', pki, '--addr', `${this.ctl.ip}:8080`, '--admin-addr', '127.0.0.1:9990']
        : [process.execPath, CLI.replace(/src\/cli\/main\.js$/, 'test/e2e/support/short-leaf-identity-runner.js'), pki, `${this.ctl.ip}:8080`, '127.0.0.1:9990', String(o.leafLifetimeMs)],
    );
    this.identity = new LogStream('identity', id);
    await this.identity.waitFor({ msg: 'identity service listening' });
    copyFileSync(join(pki, 'ca.crt'), join(this.dir, 'ca.crt'));
    chmodSync(join(this.dir, 'ca.crt'), 0o644);

    this.fakeApi = this.topo.spawn(this.ctl.netns, [process.execPath, CLI.replace(/src\/cli\/main\.js$/, 'test/e2e/support/fake-api-runner.js'), this.dir]);
    this.fakeApiOut = new LogStream('fake-api', this.fakeApi);
    const ready = await this.fakeApiOut.waitFor({ ready: true });
    // As installed: discovery serves TLS with a certificate it gets through Certify with its own token.
    const discoveryToken = join(this.dir, 'lanyard-discovery.token');
    writeFileSync(discoveryToken, sh([process.execPath, CLI, 'token', 'mint', '--ns', 'lanyard', '--sa', 'lanyard-discovery', '--pki-dir', pki]).trim(), { mode: 0o600 });
    const disc = this.topo.spawn(this.ctl.netns, [
      process.execPath, CLI, 'discovery', '--kubernetes', '--kubeconfig', String(ready.kubeconfig), '--addr', `${this.ctl.ip}:8086`, '--admin-addr', '127.0.0.1:9996',
      '--tls', 'certify', '--identity-addr', `${this.ctl.ip}:8080`, '--trust-anchors', join(this.dir, 'ca.crt'), '--token-file', discoveryToken,
    ]);
    this.discovery = new LogStream('discovery', disc);
    await this.discovery.waitFor({ msg: 'pod watch synced' });
  }

  /** Sends one command to the fake API server and waits for its acknowledgement. */
  async kube(cmd: Record<string, unknown>): Promise<void> {
    const before = this.fakeApiOut.lines.length;
    this.fakeApi.stdin!.write(JSON.stringify(cmd) + '\n');
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 20))) {
      const answer = this.fakeApiOut.lines.slice(before).find((l) => 'ok' in l || 'error' in l);
      if (answer?.error) throw new Error(String(answer.error));
      if (answer) return;
    }
    throw new Error(`fake API did not acknowledge ${JSON.stringify(cmd)}`);
  }

  /** A pod: app, and unless `sa` is null, proxy-init rules and a transparent proxy. */
  async pod(name: string, host: number, sa: string | null, env: Record<string, string> = {}, initArgs: string[] = []): Promise<MeshPod> {
    const p = this.topo.pod(name, host);
    const app = new LogStream(`${name}-app`, this.topo.spawn(p.netns, [process.execPath, '-e', APP, name]));
    await app.waitFor({ app: 'listening' });
    await this.kube({ op: 'addPod', pod: meshedPod('default', name, sa ?? 'default', p.ip, { meshed: sa !== null }) });
    if (sa === null) return { ...p, sa, proxy: null, app };
    sh([process.execPath, CLI, 'proxy-init', '--proxy-uid', String(PROXY_UID), ...initArgs], { netns: p.netns });
    const token = join(this.dir, `${name}.token`);
    writeFileSync(token, sh([process.execPath, CLI, 'token', 'mint', '--ns', 'default', '--sa', sa, '--pki-dir', join(this.dir, 'pki')]).trim(), { mode: 0o644 });
    const proxyEnv = {
      ...process.env,
      LANYARD_PROXY_TRANSPARENT: 'true',
      LANYARD_PROXY_IDENTITY_ADDR: `${this.ctl.ip}:8080`,
      LANYARD_PROXY_DISCOVERY_ADDR: `${this.ctl.ip}:8086`,
      LANYARD_PROXY_DISCOVERY_NAME: DISCOVERY_IDENTITY,
      LANYARD_PROXY_TRUST_ANCHORS: join(this.dir, 'ca.crt'),
      LANYARD_PROXY_LOCAL_IDENTITY: identityOf(sa),
      LANYARD_PROXY_TOKEN_FILE: token,
      LANYARD_PROXY_INBOUND_ADDR: '0.0.0.0:4143',
      LANYARD_PROXY_OUTBOUND_ADDR: '127.0.0.1:4140',
      LANYARD_PROXY_ADMIN_ADDR: '0.0.0.0:4191',
      LANYARD_LOG_LEVEL: 'info',
      ...env,
    };
    const proxy = new LogStream(`${name}-proxy`, this.topo.spawn(p.netns, [join(ROOT, 'proxy', 'bin', 'lanyard-proxy')], { uid: PROXY_UID, env: { ...proxyEnv, LANYARD_NODE: process.execPath } }));
    await proxy.waitFor({ event: 'proxy_ready' });
    return { ...p, sa, proxy, app };
  }

  writeFile(name: string, content: string): string {
    const path = join(this.dir, name);
    writeFileSync(path + '.tmp', content, { mode: 0o644 });
    // rename: an atomic replace, as a ConfigMap update would be
    sh(['mv', path + '.tmp', path]);
    return path;
  }

  read(name: string): string {
    return readFileSync(join(this.dir, name), 'utf8');
  }

  async destroy(): Promise<void> {
    try {
      this.fakeApi?.stdin?.end();
    } catch {
      // already gone
    }
    await this.topo.destroy();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** curl from inside a pod, as root (so not the proxy's UID): exit code and body. */
export function curl(pod: Pod, url: string, timeoutS = 5): { code: number; body: string } {
  try {
    const body = sh(['curl', '-sS', '--max-time', String(timeoutS), url], { netns: pod.netns });
    return { code: 0, body };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { code: err.status ?? -1, body: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}
