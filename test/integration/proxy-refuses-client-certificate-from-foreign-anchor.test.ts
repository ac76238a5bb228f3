/**
 * A client presenting a certificate for a real workload name, but chained to an anchor
 * the mesh does not trust (`openssl s_client -cert/-key` from its own CA), is torn down
 * right after the handshake: nothing reaches the application, the audit line says
 * `client-cert-rejected` with OpenSSL's verification error, and the proxy keeps serving
 * mTLS.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestPki } from '../support/test-ca.js';
import { Mesh, identityOf, httpGet, metric, openssl, workloadLeaf, type ProxyProcess } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
const WEB = identityOf('default', 'web');

let mesh: Mesh;
let api: ProxyProcess;
let web: ProxyProcess;
beforeAll(async () => {
  mesh = await Mesh.start();
  ({ api, web } = await mesh.pair({ appPort: await mesh.app('api') }));
});
afterAll(() => mesh.stop());

test('a client certificate from a foreign anchor is rejected, naming the verification error', async () => {
  const foreign = await createTestPki({ anchorCn: 'root.foreign.example', issuerCn: 'issuer.foreign.example' });
  // The foreign CA names a real workload of this mesh: only the anchor is wrong.
  const leaf = await workloadLeaf({ issuerCert: foreign.issuerCert, issuerKey: foreign.issuerKey, ns: 'default', sa: 'web' });
  const file = (name: string, text: string) => (writeFileSync(join(mesh.dir, name), text), join(mesh.dir, name));
  const args = ['s_client', '-connect', `127.0.0.1:${api.inbound}`, '-servername', API, '-CAfile', mesh.anchorsFile()];
  args.push('-cert', file('foreign-web.crt', leaf.certPem), '-key', file('foreign-web.key', leaf.keyPem), '-cert_chain', file('foreign-issuer.crt', leaf.chainPem));

  // stdin stays open: s_client only exits because the proxy tears the connection down.
  const res = await openssl(args, { input: 'GET / HTTP/1.0\r\n\r\n', timeoutMs: 10_000 });
  expect(res.timedOut).toBe(false);
  expect(res.stdout).toContain('Verify return code: 0 (ok)'); // the proxy's own certificate is fine
  expect(res.stdout).not.toContain('HTTP/1.');
  expect(res.stderr).toMatch(/read:errno=\d+|unexpected eof/); // reset or closed by the proxy

  const line = await api.waitForLog({ event: 'connection', close_reason: 'client-cert-rejected' });
  expect(line).toMatchObject({
    audit: 'v1',
    direction: 'inbound',
    local_identity: API,
    peer_identity: 'unauthenticated',
    peer_spiffe_id: null,
    tls: true,
    decision: 'deny',
    reason: 'client certificate rejected: UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
    bytes_rx: 0,
    bytes_tx: 0,
  });
  expect(await metric(api.admin, 'lanyard_proxy_connections_closed_total', { direction: 'inbound', reason: 'client-cert-rejected' })).toBe(1);
  expect(api.where({ event: 'connection', decision: 'allow' })).toHaveLength(0);
});

test('the proxy is still alive and serves mTLS afterwards', async () => {
  expect(api.alive()).toBe(true);
  expect(await httpGet(web.outbound[0], '/after')).toEqual({ status: 200, body: 'api: GET /after\n' });
  expect(await api.waitForLog({ event: 'connection', decision: 'allow' })).toMatchObject({ peer_identity: WEB, tls: true, close_reason: 'eof' });
});
