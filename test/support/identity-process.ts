/**
 * `lanyard identity` as a real process on loopback, on the embedded dev default (a fresh
 * development PKI in a temporary directory), with helpers to certify through it as a proxy
 * would, read its admin endpoints and its resident memory.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertifyClient } from '../../proxy/identity/certify-client.js';
import { lanyard, startLanyard, type RunningCli } from './cli.js';
import { rssBytes } from './half-sent-streams.js';
import { workloadCsr } from './test-ca.js';

export interface IdentityProcess {
  cli: RunningCli;
  dir: string;
  pkiDir: string;
  /** Certify `host:port` and admin `host:port`. */
  addr: string;
  admin: string;
  servingIdentity: string;
  /** A Certify client as the proxy uses it, for default/<sa>. */
  client(): CertifyClient;
  certify(client: CertifyClient, sa?: string): Promise<void>;
  metrics(): Promise<string>;
  /** The value of one sample, e.g. `lanyard_identity_connections_open` or `x{a="b"}`; NaN if absent. */
  sample(series: string): Promise<number>;
  rss(): number;
  stop(): Promise<void>;
}

export async function startIdentityProcess(args: string[] = []): Promise<IdentityProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-identity-proc-'));
  const pkiDir = join(dir, 'pki');
  const cli = startLanyard(['identity', '--issuer-dir', pkiDir, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', ...args]);
  const clients: CertifyClient[] = [];
  try {
    await cli.waitFor(/identity service listening/, 30_000);
  } catch (e) {
    await cli.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const line = cli
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === 'identity service listening') as { addr: string; admin: string; identity: string };
  const tokens = new Map<string, string>();
  const tokenFor = async (sa: string) => {
    if (!tokens.has(sa)) {
      const mint = await lanyard(['token', 'mint', '--ns', 'default', '--sa', sa, '--pki-dir', pkiDir]);
      if (mint.code !== 0) throw new Error(`token mint failed: ${mint.stderr}`);
      tokens.set(sa, mint.stdout.trim());
    }
    return tokens.get(sa)!;
  };
  const metrics = async () => (await fetch(`http://${line.admin}/metrics`)).text();
  return {
    cli,
    dir,
    pkiDir,
    addr: line.addr,
    admin: line.admin,
    servingIdentity: line.identity,
    client() {
      const c = new CertifyClient({ address: line.addr, serverName: line.identity, trustAnchorsPem: readFileSync(join(pkiDir, 'ca.crt'), 'utf8') });
      clients.push(c);
      return c;
    },
    async certify(client, sa = 'web') {
      const identity = `${sa}.default.serviceaccount.identity.lanyard.cluster.local`;
      const res = await client.certify(identity, await tokenFor(sa), workloadCsr(identity).csr);
      if (!res.leaf_certificate.length) throw new Error('Certify answered without a leaf');
    },
    metrics,
    async sample(series) {
      const text = await metrics();
      const at = text.split('\n').find((l) => l.startsWith(`${series} `));
      return at ? Number(at.slice(series.length + 1)) : NaN;
    },
    rss: () => rssBytes(cli.child.pid!, (p) => readFileSync(p, 'utf8')),
    async stop() {
      for (const c of clients) c.close();
      await cli.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls `read` until `ok(value)` or the deadline; returns the last value. For counters and gauges, not for sleeping. */
export async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}; last value ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
