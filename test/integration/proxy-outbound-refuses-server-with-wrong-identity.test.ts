/**
 * Outbound, the route says which identity the upstream must prove. Whatever answers
 * instead is refused before a byte of the app's request leaves, and the audit line says
 * why:
 * - a real proxy whose identity is db: it does not terminate TLS for api's name, so it
 *   passes the ClientHello through to its plaintext app and the handshake fails;
 * - a server presenting a valid mesh certificate for db (a workload answering every name
 *   with its own certificate): `server identity mismatch: expected api…, certificate names db…`;
 * - a server presenting a certificate for api from a foreign CA: `upstream certificate rejected`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createTestPki } from '../support/test-ca.js';
import { Mesh, freePort, identityOf, openssl, tcpExchange, tryConnect, waitUntil, workloadLeaf, type LeafPem, type ProxyProcess, type TcpApp } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
const DB = identityOf('default', 'db');
const REQUEST = 'GET /secret HTTP/1.0\r\n\r\n';

let mesh: Mesh;
let db: ProxyProcess;
let web: ProxyProcess;
let dbApp: TcpApp;
let stopServers!: () => void;
const serversDone = new Promise<void>((r) => (stopServers = r));
const servers: Promise<unknown>[] = [];

/** `openssl s_server` presenting `leaf` (with its issuer) on a free port, until the suite ends. */
async function sServer(name: string, leaf: LeafPem): Promise<number> {
  const file = (suffix: string, text: string) => (writeFileSync(join(mesh.dir, `${name}.${suffix}`), text), join(mesh.dir, `${name}.${suffix}`));
  const port = await freePort();
  const args = ['s_server', '-accept', `127.0.0.1:${port}`, '-tls1_3', '-cert', file('crt', leaf.certPem), '-key', file('key', leaf.keyPem), '-cert_chain', file('chain', leaf.chainPem)];
  servers.push(openssl(args, { until: () => serversDone, timeoutMs: 60_000 }));
  await waitUntil(async () => (await tryConnect(port)) === 'connected', `s_server ${name} listening`);
  return port;
}

beforeAll(async () => {
  mesh = await Mesh.start();
  // A plaintext app: whatever arrives, it answers like an HTTP server given garbage.
  dbApp = await mesh.tcpApp((s) => s.once('data', () => s.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n')));
  db = await mesh.proxy({ name: 'db', sa: 'db', env: { LANYARD_PROXY_APP_PORT: String(dbApp.port) } });
  const { issuerCert, issuerKey } = mesh.identity.pki;
  const impostor = await sServer('mesh-db', await workloadLeaf({ issuerCert, issuerKey, ns: 'default', sa: 'db' }));
  const foreign = await createTestPki({ anchorCn: 'root.foreign.example' });
  const foreignApi = await sServer('foreign-api', await workloadLeaf({ issuerCert: foreign.issuerCert, issuerKey: foreign.issuerKey, ns: 'default', sa: 'api' }));
  const api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(await mesh.app('api')) } });
  web = await mesh.proxy({
    name: 'web',
    sa: 'web',
    env: {
      // Four routes, all expecting api; only the upstreams differ (the last is the real api).
      LANYARD_PROXY_ROUTES: JSON.stringify([db.inbound, impostor, foreignApi, api.inbound].map((port) => ({ listen: '127.0.0.1:0', upstream: `127.0.0.1:${port}`, identity: API }))),
    },
  });
});
afterAll(async () => {
  stopServers();
  await Promise.all(servers);
  await mesh.stop();
});

/** Sends the app's request through outbound route `i`; it must be cut off with nothing back. */
async function refusedThrough(i: number) {
  const res = await tcpExchange(web.outbound[i], REQUEST);
  expect(res.data.length).toBe(0);
  expect(['end', 'ECONNRESET']).toContain(res.closed);
  return res;
}

test('a real proxy with identity db: the handshake fails, refused, and db saw only a ClientHello', async () => {
  await refusedThrough(0);
  const line = await web.waitForLog({ event: 'connection', direction: 'outbound', dst: `127.0.0.1:${db.inbound}` });
  expect(line).toMatchObject({
    audit: 'v1',
    local_identity: identityOf('default', 'web'),
    tls: true,
    decision: 'deny',
    reason: `upstream 127.0.0.1:${db.inbound} did not complete a TLS handshake for ${API}: ERR_SSL_WRONG_VERSION_NUMBER`,
    close_reason: 'upstream:ERR_SSL_WRONG_VERSION_NUMBER',
    bytes_rx: 0,
    bytes_tx: 0,
  });
  // db's side: TLS for a name that is not db's own is passed through, as designed.
  const passed = await db.waitForLog({ event: 'connection', direction: 'inbound' });
  expect(passed).toMatchObject({ tls: false, reason: `TLS for ${API} passed through; all-unauthenticated allows every peer` });
  expect(dbApp.bytes(0)[0]).toBe(0x16);
  expect(dbApp.bytes(0).includes(REQUEST)).toBe(false); // the app's request never left web
});

test('a server with a valid mesh certificate for db: server identity mismatch', async () => {
  await refusedThrough(1);
  const line = await web.waitForLog({ event: 'connection', direction: 'outbound', close_reason: 'upstream:ERR_LANYARD_IDENTITY_MISMATCH' });
  expect(line).toMatchObject({
    tls: true,
    decision: 'deny',
    reason: `server identity mismatch: expected ${API}, certificate names ${DB}`,
    bytes_rx: 0,
    bytes_tx: 0,
  });
});

test('a server with a certificate for api from a foreign CA: upstream certificate rejected', async () => {
  await refusedThrough(2);
  const line = await web.waitForLog({ event: 'connection', direction: 'outbound', close_reason: 'upstream:UNABLE_TO_GET_ISSUER_CERT_LOCALLY' });
  expect(line).toMatchObject({ tls: true, decision: 'deny', reason: 'upstream certificate rejected: UNABLE_TO_GET_ISSUER_CERT_LOCALLY', bytes_rx: 0, bytes_tx: 0 });
});

test('the refusals are counted, and web is alive and still reaches a real api', async () => {
  const metrics = await (await fetch(`http://127.0.0.1:${web.admin}/metrics`)).text();
  expect(metrics).toMatch(/lanyard_proxy_connections_closed_total\{direction="outbound",[^}]*decision="deny",reason="upstream:ERR_LANYARD_IDENTITY_MISMATCH"\} 1/);
  expect(web.alive()).toBe(true);
  expect((await tcpExchange(web.outbound[3], REQUEST)).data.toString()).toMatch(/^HTTP\/1\.1 200 OK[\s\S]*api: GET \/secret\n$/);
  expect(await web.waitForLog({ event: 'connection', direction: 'outbound', decision: 'allow' })).toMatchObject({ peer_identity: API, tls: true, close_reason: 'eof' });
});
