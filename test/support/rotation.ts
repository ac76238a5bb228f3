/**
 * What the rotation scenarios share: an in-process identity service whose issuer directory is
 * a Secret volume (atomic `..data` swaps), a bundle file every proxy reads (replaced by
 * rename, as a ConfigMap update is seen), continuous HTTP traffic through a proxy pair (half
 * on keep-alive connections, half on new connections) that records every failure, and
 * readers of each proxy's /identity.
 */
import { Agent, request } from 'node:http';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminJson, Mesh, waitUntil, type ProxyProcess } from './mesh-harness.js';
import type { HarnessOptions } from './identity-harness.js';
import { writeSecretVolume } from './secret-volume.js';
import type { TestPki } from './test-ca.js';

export interface RotationMesh {
  mesh: Mesh;
  /** The identity service's issuer directory (a Secret volume). */
  issuerDir: string;
  /** The trust bundle file every proxy started by `proxy()` reads. */
  bundleFile: string;
  /** Moves the identity service to `pki`'s issuer, checked against `bundlePem`. */
  setIssuer(pki: Pick<TestPki, 'issuer'>, bundlePem: string): void;
  /** Replaces the proxies' bundle file in one rename. */
  setProxyBundle(pem: string, file?: string): void;
}

export async function startRotationMesh(pki: TestPki, o: HarnessOptions = {}): Promise<RotationMesh> {
  const base = mkdtempSync(join(tmpdir(), 'lanyard-rotation-'));
  const issuerDir = join(base, 'issuer');
  writeSecretVolume(issuerDir, { 'tls.crt': pki.issuer.certPem, 'tls.key': pki.issuer.keyPem, 'ca.crt': pki.anchor.certPem });
  const mesh = await Mesh.start({ pki, issuerDir, pollIntervalMs: 500, statusHeartbeatMs: 1000, ...o });
  const bundleFile = join(base, 'bundle.pem');
  const setProxyBundle = (pem: string, file = bundleFile) => {
    writeFileSync(`${file}.tmp`, pem);
    renameSync(`${file}.tmp`, file);
  };
  setProxyBundle(pki.anchor.certPem);
  return {
    mesh,
    issuerDir,
    bundleFile,
    setIssuer: (p, bundlePem) => writeSecretVolume(issuerDir, { 'tls.crt': p.issuer.certPem, 'tls.key': p.issuer.keyPem, 'ca.crt': bundlePem }),
    setProxyBundle,
  };
}

export interface IdentityReport {
  ready: boolean;
  serial: string;
  issuer_fingerprint_sha256: string | null;
  chains_to: string[];
  anchors: { fingerprint_sha256: string }[];
  issuer_status: string;
  identity_service_skew_ms: number | null;
  installed_at: string;
}

export const identityOfProxy = async (p: ProxyProcess): Promise<IdentityReport> => (await adminJson(p.admin, '/identity')) as unknown as IdentityReport;

/** Waits until every proxy's leaf was signed by `issuerFingerprint` (read from /identity). */
export async function waitForIssuer(proxies: ProxyProcess[], issuerFingerprint: string, what: string, timeoutMs = 30_000): Promise<void> {
  await waitUntil(async () => (await Promise.all(proxies.map(identityOfProxy))).every((r) => r.issuer_fingerprint_sha256 === issuerFingerprint), what, timeoutMs);
}

export interface Traffic {
  /** Requests answered 200 so far. */
  ok(): number;
  /** Every request that did not get a 200, with why. */
  failures: string[];
  /**
   * Requests sent again, once, because the kept-alive connection they went out on was closed
   * before any byte of an answer came back (RFC 9112 §9.3.1; Node's `request.reusedSocket`
   * documentation shows the same retry). Any server or proxy that closes idle keep-alive
   * connections meets this race, and curl, Go and browsers retry such requests; a drain
   * closes each kept connection once, so at most one per keep-alive loop and drain.
   */
  retried: string[];
  /** How many loops use one keep-alive connection each. */
  keptLoops: number;
  /** Ends the loops and resolves once every request in flight has settled. */
  stop(): Promise<void>;
}

/**
 * Continuous GETs to 127.0.0.1:port: `loops` loops, half on one keep-alive connection each,
 * half on a new connection per request, 20 ms apart.
 */
export function startTraffic(port: number, loops = 4): Traffic {
  let ok = 0;
  let stopped = false;
  const failures: string[] = [];
  const retried: string[] = [];
  const agents: Agent[] = [];
  const loop = async (agent: Agent | false, label: string) => {
    for (let i = 0; !stopped; i++) {
      try {
        const status = await getRetryingAClosedKeptConnection(port, agent, `/${label}/${i}`, (why) => retried.push(`${label} ${i} at ${new Date().toISOString()}: ${why}`));
        if (status === 200) ok++;
        else failures.push(`${label} ${i} at ${new Date().toISOString()}: HTTP ${status}`);
      } catch (e) {
        failures.push(`${label} ${i} at ${new Date().toISOString()}: ${(e as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  const running = Array.from({ length: loops }, (_, i) => {
    if (i % 2 === 1) return loop(false, `fresh${i}`);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(agent);
    return loop(agent, `kept${i}`);
  });
  return {
    ok: () => ok,
    failures,
    retried,
    keptLoops: Math.ceil(loops / 2),
    async stop() {
      stopped = true;
      await Promise.all(running);
      for (const a of agents) a.destroy();
    },
  };
}

/** A GET, sent once more when it went out on a reused connection that closed before any answer (see Traffic.retried). */
async function getRetryingAClosedKeptConnection(port: number, agent: Agent | false, path: string, onRetry: (why: string) => void): Promise<number> {
  try {
    return await get(port, agent, path);
  } catch (e) {
    const err = e as Error & { reusedSocket?: boolean; answered?: boolean; code?: string };
    if (!err.reusedSocket || err.answered || (err.code !== 'ECONNRESET' && err.code !== 'EPIPE')) throw e;
    onRetry(err.message);
    return get(port, agent, path);
  }
}

function get(port: number, agent: Agent | false, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = request({ host: '127.0.0.1', port, path, agent, timeout: 5000 }, (res) => {
      answered = true;
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => reject(Object.assign(e, { reusedSocket: req.reusedSocket, answered })));
    req.end();
  });
}

/** Resolves once `traffic` has answered `n` more requests (traffic flows through whatever changed). */
export async function moreRequests(traffic: Traffic, n: number, what: string): Promise<void> {
  const target = traffic.ok() + n;
  await waitUntil(() => traffic.ok() >= target, `${n} more requests ${what}`, 20_000);
}
