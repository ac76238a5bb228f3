/**
 * Certificate renewal and issuer rotation under continuous traffic, end to end, in network
 * namespaces with real iptables and transparent proxies: pods A (multiplexed transport) and
 * C (one TLS connection per connection) send HTTP to pod B's address, half on keep-alive
 * connections and half on new connections, from processes inside the pods (issue 10).
 * 1. Leaves live 5 seconds for 30 seconds of traffic: every proxy installs several, none
 *    restarts, not one request fails and none is sent again (nothing is drained).
 * 2. The identity service's issuer moves to another one signed by the same anchor: every
 *    proxy re-certifies from the new issuer within its re-issue window, with the same result.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { E2E_NEEDS, NS_PREFIX } from './support/netns.js';
import { requires } from '../support/requires.js';
import { createTestPki } from '../support/test-ca.js';
import { curl, LogStream, NamespaceMesh, type Log, type MeshPod } from './support/mesh-in-namespaces.js';
import { TRAFFIC } from './support/rotation-traffic.js';

const need = requires(...E2E_NEEDS);

const LEAF_MS = 5000;
const SOAK_MS = 30_000;
const REISSUE_WINDOW_MS = 3000;

interface Cluster {
  mesh: NamespaceMesh;
  pods: { a: MeshPod; b: MeshPod; c: MeshPod };
  proxies: LogStream[];
}

async function cluster(name: string, env: Record<string, string>, leafLifetimeMs?: number): Promise<Cluster> {
  const mesh = new NamespaceMesh(`${NS_PREFIX}${name}-${process.pid}`);
  await mesh.startControlPlane({ leafLifetimeMs });
  const b = await mesh.pod('b', 11, 'api', { ...env, LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' });
  const a = await mesh.pod('a', 10, 'web', env);
  const c = await mesh.pod('c', 12, 'web', { ...env, LANYARD_PROXY_MUX: 'false' });
  return { mesh, pods: { a, b, c }, proxies: [a, b, c].map((p) => p.proxy!) };
}

interface Sender {
  child: ReturnType<NamespaceMesh['topo']['spawn']>;
  out: LogStream;
}

function startTraffic(k: Cluster): Sender[] {
  return [k.pods.a, k.pods.c].map((p) => {
    const child = k.mesh.topo.spawn(p.netns, [process.execPath, '-e', TRAFFIC, k.pods.b.ip]);
    return { child, out: new LogStream(`${p.name}-traffic`, child) };
  });
}

/** Waits until `stream` has reported at least `n` more answers. */
async function more(stream: LogStream, n: number): Promise<void> {
  const answered = () => Math.max(0, ...stream.lines.map((l) => Number(l.ok ?? 0)));
  const target = answered() + n;
  await stream.waitUntil(() => answered() >= target, 30_000);
}

/** Once the senders were sent SIGTERM: no failure, nothing sent twice, at least `minAnswers` each. */
async function checkTraffic(senders: Sender[], minAnswers: number): Promise<void> {
  const finals = await Promise.all(senders.map((s) => s.out.waitUntil((l) => 'final' in l)));
  for (const s of senders) {
    expect(s.out.lines.filter((l) => 'fail' in l)).toEqual([]);
    expect(s.out.lines.filter((l) => 'retried' in l)).toEqual([]);
  }
  for (const f of finals) expect(Number(f.final)).toBeGreaterThan(minAnswers);
}

const at = (l: Log) => new Date(String(l.time)).getTime();

need.test(
  `${LEAF_MS / 1000}-second leaves, ${SOAK_MS / 1000} s of traffic: several certificates per proxy, zero failed requests, none sent again, no restart`,
  async () => {
    const k = await cluster('s', { LANYARD_PROXY_MIN_REFRESH: '1s' }, LEAF_MS);
    try {
      const senders = startTraffic(k);
      try {
        for (const s of senders) await more(s.out, 50);
        const since = k.proxies.map((p) => p.where({ event: 'identity_refreshed' }).length);
        const end = Date.now() + SOAK_MS;
        // The soak is a length of time: the traffic runs on while the leaves turn over.
        for (const s of senders) await s.out.waitUntil(() => Date.now() >= end, SOAK_MS + 10_000);
        k.proxies.forEach((p, i) => {
          const installs = p.where({ event: 'identity_refreshed' });
          // A renewal at least every 6 s (70% of 5 s, jittered, plus the call) during the soak.
          expect(installs.length - since[i]).toBeGreaterThanOrEqual(Math.floor(SOAK_MS / 6000));
          expect(new Set(installs.map((l) => l.serial)).size).toBe(installs.length);
          expect(p.where({ event: 'identity_refresh_failed' })).toEqual([]);
        });
      } finally {
        for (const s of senders) s.child.kill('SIGTERM');
      }
      await checkTraffic(senders, SOAK_MS / 100);
      for (const [pod, p] of [[k.pods.a, k.pods.a.proxy!], [k.pods.b, k.pods.b.proxy!], [k.pods.c, k.pods.c.proxy!]] as const) {
        const report = JSON.parse(curl(pod, 'http://127.0.0.1:4191/identity').body) as { serial: string };
        // One of the certificates it logged (a renewal may land between the two reads).
        await p.waitUntil((l) => l.event === 'identity_refreshed' && l.serial === report.serial);
        expect(p.where({ event: 'proxy_ready' })).toHaveLength(1);
      }
    } finally {
      await k.mesh.destroy();
    }
  },
  SOAK_MS + 150_000,
);

need.test(
  'issuer moved to another one under the same anchor: every leaf from the new issuer within the re-issue window, zero failed requests, none sent again, no restart',
  async () => {
    const k = await cluster('i', { LANYARD_PROXY_REISSUE_WINDOW: `${REISSUE_WINDOW_MS / 1000}s` });
    try {
      const pkiDir = join(k.mesh.dir, 'pki');
      const anchor = { certPem: readFileSync(join(pkiDir, 'ca.crt'), 'utf8'), keyPem: readFileSync(join(pkiDir, 'ca.key'), 'utf8') };
      const next = await createTestPki({ anchor, issuerCn: 'issuer-2' });
      const anchorFp = next.anchorCert.fingerprint256;
      const newIssuer = next.issuerCert.fingerprint256;
      const replace = (path: string, text: string) => (writeFileSync(`${path}.tmp`, text, { mode: 0o600 }), renameSync(`${path}.tmp`, path));
      const senders = startTraffic(k);
      try {
        for (const s of senders) await more(s.out, 50);
        // tls.* wins over the dev issuer.* pair; the key first, so the pair is whole once the certificate lands.
        replace(join(pkiDir, 'tls.key'), next.issuer.keyPem);
        replace(join(pkiDir, 'tls.crt'), next.issuer.certPem);
        for (const p of k.proxies) await p.waitUntil((l) => l.event === 'identity_refreshed' && l.issuer_fingerprint === newIssuer, 30_000);
        for (const s of senders) await more(s.out, 100);
      } finally {
        for (const s of senders) s.child.kill('SIGTERM');
      }
      await checkTraffic(senders, 150);
      for (const [pod, p] of [[k.pods.a, k.pods.a.proxy!], [k.pods.b, k.pods.b.proxy!], [k.pods.c, k.pods.c.proxy!]] as const) {
        // The status stream told the proxy, which re-certified within its window (plus the Certify call).
        const seen = p.where({ event: 'issuer_change_seen', issuer: newIssuer });
        expect(seen.map((l) => l.within_ms)).toEqual([REISSUE_WINDOW_MS]);
        const moved = p.lines.find((l) => l.event === 'identity_refreshed' && l.issuer_fingerprint === newIssuer)!;
        expect(moved.cause).toBe('issuer-changed');
        expect(at(moved) - at(seen[0])).toBeLessThan(REISSUE_WINDOW_MS + 5000);
        const report = JSON.parse(curl(pod, 'http://127.0.0.1:4191/identity').body) as { chains_to: string[]; issuer_fingerprint_sha256: string };
        expect(report.issuer_fingerprint_sha256).toBe(newIssuer);
        expect(report.chains_to).toEqual([anchorFp]);
        expect(p.where({ event: 'proxy_ready' })).toHaveLength(1);
        expect(p.where({ event: 'identity_refresh_failed' })).toEqual([]);
      }
    } finally {
      await k.mesh.destroy();
    }
  },
  180_000,
);
