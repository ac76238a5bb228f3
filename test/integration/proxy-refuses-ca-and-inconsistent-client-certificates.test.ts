/**
 * Client certificates the identity service would never issue, presented by real clients
 * (node:tls, openssl s_client), all chaining to the mesh's own issuer: a SPIFFE-only leaf is
 * that SPIFFE ID (allowed by a spiffeIds rule, and audited and counted as it, not as
 * "unauthenticated"); a leaf whose DNS identity and SPIFFE ID name different service
 * accounts is refused, and so is a CA certificate used as a leaf, each audited with why.
 */
import { connect as tlsConnect } from 'node:tls';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mesh, identityOf, metric, openssl, unusualLeaf, type LeafPem, type ProxyProcess } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
const WEB = identityOf('default', 'web');
const WEB_ID = 'spiffe://cluster.local/ns/default/sa/web';
const ADMIN_ID = 'spiffe://cluster.local/ns/prod/sa/admin';
let mesh: Mesh;
let api: ProxyProcess;
let appPort: number;

beforeAll(async () => {
  mesh = await Mesh.start();
  appPort = await mesh.app('api');
  const policy = { default: 'deny', ports: { [String(appPort)]: { allow: [{ spiffeIds: [WEB_ID] }, { identities: [WEB] }] } } };
  api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(appPort), LANYARD_PROXY_POLICY: JSON.stringify(policy) } });
});
afterAll(() => mesh.stop());

const leaf = (o: { dns?: string[]; uris?: string[]; ca?: boolean }) => unusualLeaf({ issuerCert: mesh.identity.pki.issuerCert, issuerKey: mesh.identity.pki.issuerKey, ...o });

/** A GET over TLS with `cert`; resolves what came back ('' when the proxy closed it). */
function get(cert: LeafPem): Promise<string> {
  return new Promise((resolve) => {
    const tls = tlsConnect({ host: '127.0.0.1', port: api.inbound, servername: API, ca: mesh.identity.pki.anchor.certPem, cert: cert.certPem + cert.chainPem, key: cert.keyPem });
    let data = '';
    tls.on('data', (d: Buffer) => (data += d));
    tls.on('error', () => undefined);
    tls.once('secureConnect', () => tls.write('GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'));
    tls.once('close', () => resolve(data));
  });
}

test('a SPIFFE-only leaf is that SPIFFE ID: allowed by the spiffeIds rule, audited and counted as it', async () => {
  expect(await get(await leaf({ uris: [WEB_ID] }))).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*api: GET \/x\n$/);
  const line = await api.waitForLog({ event: 'connection', decision: 'allow' });
  expect(line).toMatchObject({ peer_identity: WEB_ID, peer_spiffe_id: WEB_ID, tls: true, rule: `port:${appPort}/allow[0] spiffeId ${WEB_ID}`, close_reason: 'eof' });
  expect(await metric(api.admin, 'inbound_tcp_authz_allow_total', { tls: 'true', client_id: WEB_ID, authz_name: `port:${appPort}/allow[0] spiffeId ${WEB_ID}` })).toBe(1);
  expect(await metric(api.admin, 'tcp_open_total', { direction: 'inbound', peer: 'src', tls: 'true', client_id: WEB_ID })).toBe(1);
});

test('DNS identity of one account and SPIFFE ID of another: refused, audited with why', async () => {
  expect(await get(await leaf({ dns: [WEB], uris: [ADMIN_ID] }))).toBe('');
  const line = await api.waitForLog({ event: 'connection', close_reason: 'client-cert-rejected' });
  expect(line).toMatchObject({
    decision: 'deny',
    rule: 'tls',
    tls: true,
    peer_identity: 'unauthenticated',
    reason: `client certificate rejected: DNS identity ${WEB} and SPIFFE ID ${ADMIN_ID} name different service accounts`,
  });
});

test('a CA certificate as a client leaf (openssl s_client): refused, audited with why', async () => {
  const ca = await leaf({ dns: [WEB], uris: [WEB_ID], ca: true });
  const dir = mesh.dir;
  writeFileSync(join(dir, 'ca-leaf.crt'), ca.certPem);
  writeFileSync(join(dir, 'ca-leaf.key'), ca.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'ca-leaf-chain.crt'), ca.chainPem);
  const before = api.where({ audit: 'v1', close_reason: 'client-cert-rejected' }).length;
  const r = await openssl(
    ['s_client', '-connect', `127.0.0.1:${api.inbound}`, '-servername', API, '-CAfile', mesh.anchorsFile(), '-cert', join(dir, 'ca-leaf.crt'), '-key', join(dir, 'ca-leaf.key'), '-cert_chain', join(dir, 'ca-leaf-chain.crt'), '-quiet'],
    { input: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n' },
  );
  expect(r.stdout).not.toMatch(/HTTP\/1\.1 200/);
  await api.waitForLog({ event: 'connection', reason: 'client certificate rejected: a CA certificate (basicConstraints CA:TRUE) is not a workload certificate' });
  expect(api.where({ audit: 'v1', close_reason: 'client-cert-rejected' })).toHaveLength(before + 1);
});
