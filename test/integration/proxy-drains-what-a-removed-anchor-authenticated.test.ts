/**
 * Removing a trust anchor takes effect on what is already open. Leaves move to a new anchor's
 * issuer while a keep-alive HTTP connection and a long upload stay open through web → api;
 * both were authenticated under the old anchor. When the old anchor leaves both proxies'
 * bundles, what it authenticated is drained: a multiplexed session sends GOAWAY (new streams
 * go to a fresh session), the keep-alive connection closes at its first quiet moment (its
 * client's next request takes a new connection and succeeds), and the upload, never quiet,
 * is closed when the grace period ends.
 */
import { request } from 'node:http';
import { metricSum, waitUntil } from '../support/mesh-harness.js';
import { moreRequests, startRotationMesh, startTraffic, waitForIssuer } from '../support/rotation.js';
import { createTestPki } from '../support/test-ca.js';

const GRACE_MS = 3000;

/** A POST whose body never ends: a chunk every 50 ms until the connection is closed under it. */
function endlessUpload(port: number): { closedAt: Promise<number> } {
  const req = request({ host: '127.0.0.1', port, path: '/upload', method: 'POST', agent: false, headers: { 'transfer-encoding': 'chunked' } });
  const timer = setInterval(() => req.write('x'.repeat(64)), 50);
  const closedAt = new Promise<number>((resolve) => {
    req.on('error', () => undefined);
    req.on('close', () => (clearInterval(timer), resolve(Date.now())));
  });
  req.flushHeaders();
  return { closedAt };
}

test.each([
  ['multiplexed', 'true'],
  ['one TLS connection per connection', 'false'],
])('%s: GOAWAY / quiet close at once, the rest closed after the grace period', async (_label, mux) => {
  const oldPki = await createTestPki({ anchorCn: 'root-old', issuerCn: 'issuer-old' });
  const newPki = await createTestPki({ anchorCn: 'root-new', issuerCn: 'issuer-new' });
  const both = oldPki.anchor.certPem + newPki.anchor.certPem;
  const r = await startRotationMesh(oldPki);
  try {
    r.setIssuer(oldPki, both);
    r.setProxyBundle(both);
    const env = { LANYARD_PROXY_TRUST_ANCHORS: r.bundleFile, LANYARD_PROXY_MUX: mux, LANYARD_PROXY_REISSUE_WINDOW: '1s', LANYARD_PROXY_ANCHOR_DRAIN_GRACE: `${GRACE_MS}ms` };
    const { api, web } = await r.mesh.pair({ appPort: await r.mesh.app('api'), apiEnv: { ...env, LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' }, webEnv: env });
    // One keep-alive loop only: its connection is opened now, under the old anchor.
    const traffic = startTraffic(web.outbound[0], 1);
    await moreRequests(traffic, 10, 'on the keep-alive connection');
    const upload = endlessUpload(web.outbound[0]);
    await waitUntil(async () => (await metricSum(api.admin, 'tcp_open_connections', { direction: 'inbound' })) >= 2, 'the upload open at api');

    r.setIssuer(newPki, both);
    await waitForIssuer([api, web], newPki.issuerCert.fingerprint256, 'both leaves from the new anchor');
    await moreRequests(traffic, 10, 'with the new leaves, on the old connection');
    const sessionsBefore = web.where({ event: 'mux_session_opened' }).length;

    r.setProxyBundle(newPki.anchor.certPem);
    const drained = await Promise.all([api, web].map((p) => p.waitForLog({ event: 'anchor_drain' })));
    const drainAt = Math.min(...drained.map((l) => Date.parse(String(l.time))));
    for (const l of drained) expect(l).toMatchObject({ removed: [oldPki.anchorCert.fingerprint256] });
    expect(drained.map((l) => Number(l.drained)).every((n) => n >= 1)).toBe(true);

    // The keep-alive client's next requests go over a new connection (and, multiplexed, a new session).
    await moreRequests(traffic, 20, 'after the drain');
    const closedAt = await upload.closedAt;
    await traffic.stop();
    expect(traffic.failures).toEqual([]);
    expect(closedAt - drainAt).toBeGreaterThanOrEqual(GRACE_MS - 200);
    expect(closedAt - drainAt).toBeLessThan(GRACE_MS + 3000);

    const kinds = mux === 'true' ? ['session', 'connection'] : ['connection'];
    for (const kind of kinds) {
      expect(await metricSum(api.admin, 'lanyard_proxy_anchor_drains_total', { direction: 'inbound', kind })).toBeGreaterThanOrEqual(1);
      expect(await metricSum(web.admin, 'lanyard_proxy_anchor_drains_total', { direction: 'outbound', kind })).toBeGreaterThanOrEqual(1);
    }
    if (mux === 'true') expect(web.where({ event: 'mux_session_opened' }).length).toBeGreaterThan(sessionsBefore);
    const reasons = (p: typeof api) => p.where({ event: 'connection' }).map((l) => l.close_reason);
    await waitUntil(() => [...reasons(api), ...reasons(web)].includes('anchor-removed:grace'), 'the upload audited as closed by the grace period');
    expect([...reasons(api), ...reasons(web)]).toContain('anchor-removed');
  } finally {
    await r.mesh.stop();
  }
}, 90_000);
