/**
 * The zero-downtime trust-anchor rotation, end to end, in network namespaces with real
 * iptables and transparent proxies: pods A (multiplexed transport) and C (one TLS connection
 * per connection) send continuous HTTP to pod B's address, half on keep-alive connections and
 * half on new connections, from processes inside the pods, while the operator's steps happen
 * on files: the bundle of both anchors → the identity service's issuer moved to one signed by
 * the new anchor → the new anchor only. Not one request fails, no proxy restarts, every leaf
 * ends chained only to the new anchor, and what the old anchor authenticated was drained.
 */
import { renameSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { E2E_NEEDS, NS_PREFIX } from './support/netns.js';
import { requires } from '../support/requires.js';
import { createTestPki } from '../support/test-ca.js';
import { curl, LogStream, NamespaceMesh, type MeshPod } from './support/mesh-in-namespaces.js';
import { TRAFFIC } from './support/rotation-traffic.js';

const need = requires(...E2E_NEEDS);

let mesh: NamespaceMesh;
let a: MeshPod;
let b: MeshPod;
let c: MeshPod;

beforeAll(async () => {
  if (need.missing) return;
  mesh = new NamespaceMesh(`${NS_PREFIX}r-${process.pid}`);
  await mesh.startControlPlane();
  const rotation = { LANYARD_PROXY_REISSUE_WINDOW: '3s', LANYARD_PROXY_ANCHOR_DRAIN_GRACE: '3s' };
  b = await mesh.pod('b', 11, 'api', { ...rotation, LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' });
  a = await mesh.pod('a', 10, 'web', rotation);
  c = await mesh.pod('c', 12, 'web', { ...rotation, LANYARD_PROXY_MUX: 'false' });
}, 120_000);

afterAll(async () => {
  if (!need.missing) await mesh.destroy();
}, 30_000);

/** Waits until `stream` has reported at least `n` more answers. */
async function more(stream: LogStream, n: number): Promise<void> {
  const answered = () => Math.max(0, ...stream.lines.map((l) => Number(l.ok ?? 0)));
  const target = answered() + n;
  await stream.waitUntil(() => answered() >= target, 30_000);
}

need.test(
  'old → both → issuer from the new anchor → new only: zero failed requests from either transport',
  async () => {
    const pkiDir = join(mesh.dir, 'pki');
    const oldAnchor = readFileSync(join(pkiDir, 'ca.crt'), 'utf8');
    const next = await createTestPki({ anchorCn: 'root-new', issuerCn: 'issuer-new' });
    const newFp = next.anchorCert.fingerprint256;
    const replace = (path: string, text: string, mode = 0o644) => (writeFileSync(`${path}.tmp`, text, { mode }), renameSync(`${path}.tmp`, path));
    const proxies = [a, b, c].map((p) => p.proxy!);

    const senders = [a, c].map((p) => {
      const child = mesh.topo.spawn(p.netns, [process.execPath, '-e', TRAFFIC, b.ip]);
      return { child, out: new LogStream(`${p.name}-traffic`, child) };
    });
    try {
      for (const s of senders) await more(s.out, 50);

      // 1. Both anchors, for the identity service and every proxy.
      replace(join(pkiDir, 'ca.crt'), oldAnchor + next.anchor.certPem, 0o600);
      mesh.writeFile('ca.crt', oldAnchor + next.anchor.certPem);
      for (const p of proxies) await p.waitUntil((l) => l.event === 'trust_anchors_loaded' && (l.anchors as string[]).length === 2);
      for (const s of senders) await more(s.out, 50);

      // 2. The issuer signed by the new anchor (tls.* wins over the dev issuer.* pair).
      replace(join(pkiDir, 'tls.key'), next.issuer.keyPem, 0o600);
      replace(join(pkiDir, 'tls.crt'), next.issuer.certPem, 0o600);
      for (const p of proxies) await p.waitUntil((l) => l.event === 'identity_refreshed' && l.issuer_fingerprint === next.issuerCert.fingerprint256, 30_000);
      for (const s of senders) await more(s.out, 50);

      // 3. The new anchor only.
      mesh.writeFile('ca.crt', next.anchor.certPem);
      replace(join(pkiDir, 'ca.crt'), next.anchor.certPem, 0o600);
      for (const p of proxies) await p.waitFor({ event: 'anchor_drain' });
      for (const s of senders) await more(s.out, 100);
    } finally {
      for (const s of senders) s.child.kill('SIGTERM');
    }
    const finals = await Promise.all(senders.map((s) => s.out.waitUntil((l) => 'final' in l)));
    // On a failure, the drains and what they closed are printed beside it.
    const closes = proxies.flatMap((p) => p.lines.filter((l) => l.event === 'anchor_drain' || String(l.close_reason ?? '').startsWith('anchor-removed')).map((l) => `${p.name} ${String(l.time)} ${String(l.event)} ${String(l.close_reason ?? l.drained)}`));
    for (const s of senders) expect({ failures: s.out.lines.filter((l) => 'fail' in l), closes }).toEqual({ failures: [], closes });
    // The drain closes each kept connection once: at most one request sent again per keep-alive loop.
    for (const s of senders) expect(s.out.lines.filter((l) => 'retried' in l).length).toBeLessThanOrEqual(2);
    for (const f of finals) expect(Number(f.final)).toBeGreaterThan(250);

    for (const [pod, p] of [[a, a.proxy!], [b, b.proxy!], [c, c.proxy!]] as const) {
      const report = JSON.parse(curl(pod, 'http://127.0.0.1:4191/identity').body) as { chains_to: string[]; issuer_fingerprint_sha256: string };
      expect(report.chains_to).toEqual([newFp]);
      expect(report.issuer_fingerprint_sha256).toBe(next.issuerCert.fingerprint256);
      expect(p.where({ event: 'proxy_ready' })).toHaveLength(1);
    }
    const drained = proxies.reduce((n, p) => n + p.where({ event: 'anchor_drain' }).reduce((m, l) => m + Number(l.drained), 0), 0);
    expect(drained).toBeGreaterThan(0);
  },
  180_000,
);
