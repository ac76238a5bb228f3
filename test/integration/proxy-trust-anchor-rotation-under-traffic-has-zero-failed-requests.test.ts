/**
 * A full trust-anchor rotation under continuous traffic (half keep-alive, half new
 * connections), with the multiplexed transport on and off: old anchor → bundle of both →
 * issuer signed by the new anchor → new anchor only. Not one request fails, no proxy
 * restarts, every leaf ends chained only to the new anchor, what the old anchor
 * authenticated is drained, and a peer holding a leaf from the old anchor is refused.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityOf, openssl, waitUntil, workloadLeaf, type ProxyProcess } from '../support/mesh-harness.js';
import { identityOfProxy, moreRequests, startRotationMesh, startTraffic, waitForIssuer } from '../support/rotation.js';
import { createTestPki } from '../support/test-ca.js';

const API = identityOf('default', 'api');

test.each([
  ['multiplexed', 'true'],
  ['one TLS connection per connection', 'false'],
])('anchor rotation, %s: zero failed requests, only the new anchor at the end, the old one refused', async (_label, mux) => {
  const oldPki = await createTestPki({ anchorCn: 'root-old', issuerCn: 'issuer-old' });
  const newPki = await createTestPki({ anchorCn: 'root-new', issuerCn: 'issuer-new' });
  const oldFp = oldPki.anchorCert.fingerprint256;
  const newFp = newPki.anchorCert.fingerprint256;
  const r = await startRotationMesh(oldPki);
  try {
    const appPort = await r.mesh.app('api');
    const env = { LANYARD_PROXY_TRUST_ANCHORS: r.bundleFile, LANYARD_PROXY_MUX: mux, LANYARD_PROXY_REISSUE_WINDOW: '2s', LANYARD_PROXY_ANCHOR_DRAIN_GRACE: '2s' };
    const { api, web } = await r.mesh.pair({ appPort, apiEnv: { ...env, LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' }, webEnv: env });
    const proxies: ProxyProcess[] = [api, web];
    const traffic = startTraffic(web.outbound[0]);
    await moreRequests(traffic, 50, 'before the rotation');

    // 1. The bundle holds both anchors, everywhere.
    r.setIssuer(oldPki, oldPki.anchor.certPem + newPki.anchor.certPem);
    r.setProxyBundle(oldPki.anchor.certPem + newPki.anchor.certPem);
    await waitUntil(async () => (await Promise.all(proxies.map(identityOfProxy))).every((i) => i.anchors.length === 2), 'every proxy holding both anchors');
    await moreRequests(traffic, 50, 'with both anchors');

    // 2. The issuer moves to one signed by the new anchor: every leaf follows within the window.
    r.setIssuer(newPki, oldPki.anchor.certPem + newPki.anchor.certPem);
    await waitForIssuer(proxies, newPki.issuerCert.fingerprint256, 'every leaf from the new issuer');
    await moreRequests(traffic, 50, 'with leaves from the new issuer');

    // 3. The old anchor leaves the bundle.
    r.setProxyBundle(newPki.anchor.certPem);
    r.setIssuer(newPki, newPki.anchor.certPem);
    await waitUntil(async () => (await Promise.all(proxies.map(identityOfProxy))).every((i) => i.anchors.length === 1 && i.anchors[0].fingerprint_sha256 === newFp), 'only the new anchor in use');
    for (const p of proxies) await p.waitForLog({ event: 'anchor_drain' });
    await moreRequests(traffic, 100, 'after the old anchor left');
    await traffic.stop();

    expect(traffic.failures).toEqual([]);
    if (traffic.retried.length) console.log(`requests sent again after a kept connection closed: ${traffic.retried.join('; ')}`);
    expect(traffic.retried.length).toBeLessThanOrEqual(traffic.keptLoops);
    for (const p of proxies) {
      const report = await identityOfProxy(p);
      expect(report.chains_to).toEqual([newFp]);
      expect(report.issuer_fingerprint_sha256).toBe(newPki.issuerCert.fingerprint256);
      expect(p.alive()).toBe(true);
      expect(p.where({ event: 'proxy_ready' })).toHaveLength(1);
      expect(p.where({ event: 'anchor_drain' })[0].removed).toEqual([oldFp]);
    }
    // Something was authenticated under the old anchor when it left: it was drained.
    expect(api.where({ event: 'anchor_drain' }).reduce((n, l) => n + Number(l.drained), 0) + web.where({ event: 'anchor_drain' }).reduce((n, l) => n + Number(l.drained), 0)).toBeGreaterThan(0);

    // A peer still holding a leaf from the old anchor is refused.
    const stale = await workloadLeaf({ issuerCert: oldPki.issuerCert, issuerKey: oldPki.issuerKey, ns: 'default', sa: 'web' });
    const file = (name: string, text: string) => (writeFileSync(join(r.mesh.dir, name), text), join(r.mesh.dir, name));
    const args = ['s_client', '-connect', `127.0.0.1:${api.inbound}`, '-servername', API, '-CAfile', file('new-anchor.pem', newPki.anchor.certPem)];
    args.push('-cert', file('stale.crt', stale.certPem), '-key', file('stale.key', stale.keyPem), '-cert_chain', file('stale-issuer.crt', stale.chainPem));
    const res = await openssl(args, { input: 'GET / HTTP/1.0\r\n\r\n', timeoutMs: 10_000 });
    expect(res.stdout).toContain('Verify return code: 0 (ok)'); // api's own leaf verifies to the new anchor
    expect(res.stdout).not.toContain('HTTP/1.');
    expect(await api.waitForLog({ event: 'connection', close_reason: 'client-cert-rejected' })).toMatchObject({ decision: 'deny', reason: expect.stringMatching(/^client certificate rejected/) });
  } finally {
    await r.mesh.stop();
  }
}, 120_000);
