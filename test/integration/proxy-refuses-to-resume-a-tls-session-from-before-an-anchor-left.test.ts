/**
 * TLS session tickets cannot bring back an authentication made under a removed anchor: a
 * client that authenticated with a leaf from the old anchor resumes its session while that
 * anchor is trusted (the control), but once it left api's bundle the same ticket is not
 * accepted: the handshake is a full one, and the old leaf is refused.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityOf, openssl, workloadLeaf } from '../support/mesh-harness.js';
import { identityOfProxy, startRotationMesh } from '../support/rotation.js';
import { createTestPki } from '../support/test-ca.js';
import { waitUntil } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');

test('a ticket from before the anchor left does not resume', async () => {
  const oldPki = await createTestPki({ anchorCn: 'root-old', issuerCn: 'issuer-old' });
  const newPki = await createTestPki({ anchorCn: 'root-new', issuerCn: 'issuer-new' });
  const both = oldPki.anchor.certPem + newPki.anchor.certPem;
  const r = await startRotationMesh(oldPki);
  try {
    r.setIssuer(newPki, both);
    r.setProxyBundle(both);
    const api = await r.mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_TRUST_ANCHORS: r.bundleFile, LANYARD_PROXY_APP_PORT: String(await r.mesh.app('api')), LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' } });
    const file = (name: string, text: string) => (writeFileSync(join(r.mesh.dir, name), text), join(r.mesh.dir, name));
    const web = await workloadLeaf({ issuerCert: oldPki.issuerCert, issuerKey: oldPki.issuerKey, ns: 'default', sa: 'web' });
    const session = join(r.mesh.dir, 'web.session');
    const base = ['s_client', '-connect', `127.0.0.1:${api.inbound}`, '-servername', API, '-CAfile', file('both.pem', both), '-tls1_3'];
    base.push('-cert', file('web.crt', web.certPem), '-key', file('web.key', web.keyPem), '-cert_chain', file('web-issuer.crt', web.chainPem));
    const request = { input: 'GET / HTTP/1.0\r\n\r\n', timeoutMs: 10_000 };

    const first = await openssl([...base, '-sess_out', session], request);
    expect(first.stdout).toContain('api: GET /');
    const resumed = await openssl([...base, '-sess_in', session], request);
    expect(resumed.stdout).toMatch(/^Reused, TLSv1\.3/m); // the control: a ticket resumes while its anchor is trusted
    expect(resumed.stdout).toContain('api: GET /');

    r.setProxyBundle(newPki.anchor.certPem);
    await waitUntil(async () => (await identityOfProxy(api)).anchors.length === 1, 'api holding only the new anchor');
    const after = await openssl([...base, '-sess_in', session], request);
    expect(after.stdout).not.toMatch(/^Reused/m);
    expect(after.stdout).not.toContain('api: GET /');
    await api.waitForLog({ event: 'connection', close_reason: 'client-cert-rejected' });
  } finally {
    await r.mesh.stop();
  }
}, 60_000);
