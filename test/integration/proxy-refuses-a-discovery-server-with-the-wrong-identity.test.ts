/**
 * Whoever answers as discovery decides which identity a proxy expects at a destination, so
 * the proxy's discovery client refuses a server that is not discovery: one certified by the
 * mesh's own identity service for another control-plane account (a valid mesh certificate,
 * the wrong name), and one with discovery's name from a foreign anchor. Neither gets to
 * answer (the lookup fails closed, naming why); the real discovery, asked the same way,
 * answers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiscoveryClient, DiscoveryUnavailableError } from '../../proxy/discovery/discovery-client.js';
import { startLanyard, type RunningCli } from '../support/cli.js';
import { DISCOVERY_IDENTITY, startCertifiedDiscovery, type DiscoveryProcess } from '../support/discovery-process.js';
import { startIdentityProcess, type IdentityProcess } from '../support/identity-process.js';
import { LogSink } from '../support/log-sink.js';
import { workloadLeaf } from '../support/mesh-harness.js';
import { createTestPki } from '../support/test-ca.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const EVIL = 'evil.default.serviceaccount.identity.lanyard.cluster.local';

let identity: IdentityProcess;
let real: DiscoveryProcess;
let impostor: DiscoveryProcess;
const clients: DiscoveryClient[] = [];

/** The proxy's discovery client as the sidecar builds it: TLS, discovery's identity, the bundle. */
function proxyClient(address: string): DiscoveryClient {
  const c = new DiscoveryClient({ address, tls: { serverName: DISCOVERY_IDENTITY, trustAnchorsPem: real.anchorsPem }, logger: new LogSink().logger(), resolveTimeoutMs: 2000 });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  identity = await startIdentityProcess();
  [real, impostor] = await Promise.all([startCertifiedDiscovery(identity), startCertifiedDiscovery(identity, { serviceAccount: 'lanyard-impostor' })]);
  real.endpoints([{ address: '10.0.0.2', identity: WEB }]);
  impostor.endpoints([{ address: '10.0.0.2', identity: EVIL }]);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await Promise.all([real?.stop(), impostor?.stop()]);
  await identity?.stop();
});

test('fail/a server the identity service certified as another account is refused by name', async () => {
  expect(impostor.identity).toBe('lanyard-impostor.lanyard.serviceaccount.identity.lanyard.cluster.local');
  // It holds a real mesh certificate: verified against the bundle under its own name, it passes.
  expect((await impostor.peerCertificate()).subjectaltname).toContain(`DNS:${impostor.identity}`);
  const err = await proxyClient(impostor.addr).resolve('10.0.0.2', 8080).catch((e: Error) => e);
  expect(err).toBeInstanceOf(DiscoveryUnavailableError);
  expect((err as Error).message).toMatch(new RegExp(`is not ${DISCOVERY_IDENTITY.replace(/\./g, '\\.')}`));
}, 20_000);

test('fail/a server with discovery’s name from a foreign anchor is refused', async () => {
  const foreign = await createTestPki({ anchorCn: 'root.elsewhere' });
  const leaf = await workloadLeaf({ issuerCert: foreign.issuerCert, issuerKey: foreign.issuerKey, ns: 'lanyard', sa: 'lanyard-discovery' });
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-foreign-discovery-'));
  writeFileSync(join(dir, 'tls.crt'), leaf.certPem + leaf.chainPem);
  writeFileSync(join(dir, 'tls.key'), leaf.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'endpoints.json'), JSON.stringify([{ address: '10.0.0.2', identity: EVIL }]));
  let svc: RunningCli | null = null;
  try {
    svc = startLanyard(['discovery', '--static', join(dir, 'endpoints.json'), '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0', '--tls-cert', join(dir, 'tls.crt'), '--tls-key', join(dir, 'tls.key')]);
    await svc.waitFor(/discovery service listening/);
    const line = JSON.parse(svc.stdout().split('\n').find((l) => l.includes('discovery service listening'))!) as { addr: string; tls: string };
    expect(line.tls).toBe('files');
    const err = await proxyClient(line.addr).resolve('10.0.0.2', 8080).catch((e: Error) => e);
    expect(err).toBeInstanceOf(DiscoveryUnavailableError);
    expect((err as Error).message).toMatch(/certificate rejected \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY|SELF_SIGNED_CERT_IN_CHAIN)\)/);
  } finally {
    await svc?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 20_000);

test('ok/the real discovery, asked the same way, answers', async () => {
  expect(await proxyClient(real.addr).resolve('10.0.0.2', 8080)).toMatchObject({ meshed: true, identity: WEB });
}, 20_000);
