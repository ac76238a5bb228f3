/**
 * Client certificates signed by the mesh's own issuer, for a real workload name, but
 * outside their validity window (the identity service would never issue these; a stolen
 * old certificate or a clock far off would produce them) are rejected after the handshake
 * with OpenSSL's CERT_HAS_EXPIRED / CERT_NOT_YET_VALID, and the proxy keeps serving.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mesh, identityOf, httpGet, openssl, workloadLeaf, type ProxyProcess } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
const WEB = identityOf('default', 'web');
const HOUR = 3_600_000;

let mesh: Mesh;
let api: ProxyProcess;
let web: ProxyProcess;
beforeAll(async () => {
  mesh = await Mesh.start();
  ({ api, web } = await mesh.pair({ appPort: await mesh.app('api') }));
});
afterAll(() => mesh.stop());

async function presentClientCertificate(name: string, notBefore: Date, notAfter: Date) {
  const { issuerCert, issuerKey } = mesh.identity.pki;
  const leaf = await workloadLeaf({ issuerCert, issuerKey, ns: 'default', sa: 'web', notBefore, notAfter });
  const file = (suffix: string, text: string) => (writeFileSync(join(mesh.dir, `${name}.${suffix}`), text), join(mesh.dir, `${name}.${suffix}`));
  const args = ['s_client', '-connect', `127.0.0.1:${api.inbound}`, '-servername', API, '-CAfile', mesh.anchorsFile()];
  args.push('-cert', file('crt', leaf.certPem), '-key', file('key', leaf.keyPem), '-cert_chain', file('chain', leaf.chainPem));
  return openssl(args, { input: 'GET / HTTP/1.0\r\n\r\n', timeoutMs: 10_000 });
}

test.each([
  ['expired', 'CERT_HAS_EXPIRED', -2 * HOUR, -HOUR],
  ['not yet valid', 'CERT_NOT_YET_VALID', HOUR, 2 * HOUR],
])('a client certificate that is %s is rejected with %s', async (what, code, from, to) => {
  const before = api.where({ event: 'connection', close_reason: 'client-cert-rejected' }).length;
  const res = await presentClientCertificate(what.replace(/ /g, '-'), new Date(Date.now() + from), new Date(Date.now() + to));
  expect(res.timedOut).toBe(false); // torn down by the proxy, not by us
  expect(res.stdout).toContain('Verify return code: 0 (ok)');
  expect(res.stdout).not.toContain('HTTP/1.');

  await api.waitForLog({ event: 'connection', reason: `client certificate rejected: ${code}` });
  const lines = api.where({ event: 'connection', close_reason: 'client-cert-rejected' });
  expect(lines).toHaveLength(before + 1);
  expect(lines[before]).toMatchObject({ decision: 'deny', tls: true, peer_identity: 'unauthenticated', bytes_rx: 0, bytes_tx: 0 });
});

test('the proxy is still alive and serves mTLS afterwards', async () => {
  expect(api.alive()).toBe(true);
  expect((await httpGet(web.outbound[0], '/after')).status).toBe(200);
  expect(await api.waitForLog({ event: 'connection', decision: 'allow' })).toMatchObject({ peer_identity: WEB, tls: true });
});
