/**
 * `lanyard discovery --static FILE` as a real process on loopback, serving TLS with a
 * certificate it gets through Certify from a real `lanyard identity` process
 * (identity-process.ts), with a token minted for its service account in the control
 * namespace; plus what the tests look at: the certificate a new connection is shown, the
 * endpoints file, its log lines and /metrics.
 */
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type DetailedPeerCertificate } from 'node:tls';
import { lanyard, startLanyard, type RunningCli } from './cli.js';
import type { IdentityProcess } from './identity-process.js';

export const DISCOVERY_IDENTITY = 'lanyard-discovery.lanyard.serviceaccount.identity.lanyard.cluster.local';

export interface DiscoveryProcess {
  cli: RunningCli;
  /** gRPC and admin `127.0.0.1:<port>`. */
  addr: string;
  admin: string;
  /** The identity discovery says it serves as. */
  identity: string;
  /** The bundle discovery was given (the identity service's ca.crt). */
  anchorsPem: string;
  /** Replaces the endpoints file atomically, as a ConfigMap update does. */
  endpoints(list: { address: string; identity: string }[]): void;
  /** The chain a new TLS connection is shown (leaf first), verified against the bundle as `serverName`. */
  peerCertificate(serverName?: string): Promise<DetailedPeerCertificate>;
  /** Parsed JSON log lines so far. */
  logs(): Record<string, unknown>[];
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

export async function startCertifiedDiscovery(identity: IdentityProcess, o: { serviceAccount?: string; args?: string[] } = {}): Promise<DiscoveryProcess> {
  const sa = o.serviceAccount ?? 'lanyard-discovery';
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-discovery-proc-'));
  const file = join(dir, 'endpoints.json');
  const endpoints = (list: unknown[]) => (writeFileSync(file + '.tmp', JSON.stringify(list)), renameSync(file + '.tmp', file));
  endpoints([]);
  const mint = await lanyard(['token', 'mint', '--ns', 'lanyard', '--sa', sa, '--pki-dir', identity.pkiDir, '--ttl', '2h']);
  if (mint.code !== 0) throw new Error(`token mint: ${mint.stderr}`);
  writeFileSync(join(dir, 'token'), mint.stdout.trim(), { mode: 0o600 });
  const bundle = join(identity.pkiDir, 'ca.crt');
  const anchorsPem = readFileSync(bundle, 'utf8');
  const cli = startLanyard([
    'discovery', '--static', file, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0',
    '--tls', 'certify', '--identity-addr', identity.addr, '--trust-anchors', bundle, '--token-file', join(dir, 'token'),
    '--service-account', sa, ...(o.args ?? []),
  ]);
  const logs = () =>
    cli
      .stdout()
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  try {
    await cli.waitFor(/discovery service listening/, 30_000);
  } catch (e) {
    await cli.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const line = logs().find((l) => l.msg === 'discovery service listening') as { addr: string; admin: string; identity: string };
  const [host, port] = [line.addr.split(':')[0], Number(line.addr.split(':')[1])];
  return {
    cli,
    addr: line.addr,
    admin: line.admin,
    identity: line.identity,
    anchorsPem,
    endpoints,
    peerCertificate: (serverName = line.identity) =>
      new Promise((resolve, reject) => {
        const s = connect({ host, port, servername: serverName, ca: anchorsPem, ALPNProtocols: ['h2'] }, () => {
          const cert = s.getPeerCertificate(true);
          s.destroy();
          resolve(cert);
        });
        s.once('error', reject);
      }),
    logs,
    metrics: async () => (await fetch(`http://${line.admin}/metrics`)).text(),
    async stop() {
      await cli.stop('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
