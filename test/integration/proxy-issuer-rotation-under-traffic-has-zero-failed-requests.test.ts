/**
 * An issuer rotation under the same trust anchor, under continuous traffic (half keep-alive,
 * half new connections), with the multiplexed transport on and off: the identity service's
 * issuer directory is swapped, every proxy moves to a leaf from the new issuer within its
 * re-issue window without a restart, and not one request fails.
 */
import { type ProxyProcess } from '../support/mesh-harness.js';
import { identityOfProxy, moreRequests, startRotationMesh, startTraffic, waitForIssuer } from '../support/rotation.js';
import { createTestPki } from '../support/test-ca.js';

test.each([
  ['multiplexed', 'true'],
  ['one TLS connection per connection', 'false'],
])('issuer rotation, %s: zero failed requests, every leaf from the new issuer', async (_label, mux) => {
  const first = await createTestPki({ issuerCn: 'issuer-1' });
  const second = await createTestPki({ anchor: first.anchor, issuerCn: 'issuer-2' });
  const r = await startRotationMesh(first);
  try {
    const appPort = await r.mesh.app('api');
    const env = { LANYARD_PROXY_TRUST_ANCHORS: r.bundleFile, LANYARD_PROXY_MUX: mux, LANYARD_PROXY_REISSUE_WINDOW: '3s' };
    const { api, web } = await r.mesh.pair({ appPort, apiEnv: { ...env, LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' }, webEnv: env });
    const proxies: ProxyProcess[] = [api, web];
    const traffic = startTraffic(web.outbound[0]);
    await moreRequests(traffic, 50, 'before the rotation');
    r.setIssuer(second, first.anchor.certPem);
    await waitForIssuer(proxies, second.issuerCert.fingerprint256, 'every leaf from the new issuer');
    await moreRequests(traffic, 100, 'after the rotation');
    await traffic.stop();

    expect(traffic.failures).toEqual([]);
    // Nothing is drained when only the issuer moves: no kept connection is closed under a request.
    expect(traffic.retried).toEqual([]);
    for (const p of proxies) {
      expect(p.alive()).toBe(true);
      expect(p.where({ event: 'proxy_ready' })).toHaveLength(1);
      expect(p.where({ event: 'identity_refreshed', cause: 'issuer-changed' }).length).toBeGreaterThanOrEqual(1);
      expect((await identityOfProxy(p)).chains_to).toEqual([first.anchorCert.fingerprint256]);
    }
    expect(web.where({ event: 'identity_refresh_failed' })).toEqual([]);
  } finally {
    await r.mesh.stop();
  }
}, 90_000);
