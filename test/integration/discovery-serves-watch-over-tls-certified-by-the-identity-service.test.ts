/**
 * A real `lanyard discovery` process gets its serving certificate from a real identity
 * service through Certify (its own token, its own identity) and serves Watch over TLS to the
 * proxy's discovery client, which verifies it as `lanyard-discovery.lanyard...` against the
 * trust bundle: answers and changes arrive over TLS, the certificate is the one the identity
 * service issued for discovery's identity, /ready and the expiry gauge say so, and a
 * plaintext client gets nothing.
 */
import { X509Certificate } from 'node:crypto';
import { DiscoveryClient, DiscoveryUnavailableError } from '../../proxy/discovery/discovery-client.js';
import { TrustBundle } from '../../src/pki/trust-bundle.js';
import { DISCOVERY_IDENTITY, startCertifiedDiscovery, type DiscoveryProcess } from '../support/discovery-process.js';
import { startIdentityProcess, until, type IdentityProcess } from '../support/identity-process.js';
import { LogSink } from '../support/log-sink.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const API = 'api.default.serviceaccount.identity.lanyard.cluster.local';

let identity: IdentityProcess;
let discovery: DiscoveryProcess;
const clients: DiscoveryClient[] = [];
const client = (tls?: { serverName: string; trustAnchorsPem: string }) => {
  const c = new DiscoveryClient({ address: discovery.addr, tls, logger: new LogSink().logger(), resolveTimeoutMs: 3000 });
  clients.push(c);
  return c;
};

beforeAll(async () => {
  identity = await startIdentityProcess();
  discovery = await startCertifiedDiscovery(identity);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await discovery?.stop();
  await identity?.stop();
});

test('ok/the proxy client verifies discovery as its identity and gets answers and changes over TLS', async () => {
  expect(discovery.identity).toBe(DISCOVERY_IDENTITY);
  discovery.endpoints([{ address: '10.0.0.2', identity: WEB }]);
  const c = client({ serverName: DISCOVERY_IDENTITY, trustAnchorsPem: discovery.anchorsPem });
  await until(() => c.resolve('10.0.0.2', 8080), (e) => e.identity === WEB, 10_000, 'the first endpoints file');
  expect(await c.resolve('10.0.0.9', 8080)).toMatchObject({ meshed: false, identity: '' });

  // The change reaches the open Watch stream.
  discovery.endpoints([{ address: '10.0.0.2', identity: API }]);
  expect(await until(() => c.resolve('10.0.0.2', 8080), (e) => e.identity === API, 10_000, 'the changed answer')).toMatchObject({ meshed: true, identity: API });
}, 30_000);

test("ok/discovery presents the leaf the identity service issued for discovery's own identity", async () => {
  const peer = await discovery.peerCertificate();
  const leaf = new X509Certificate(peer.raw);
  expect(leaf.subjectAltName).toBe(`DNS:${DISCOVERY_IDENTITY}, URI:spiffe://cluster.local/ns/lanyard/sa/lanyard-discovery`);
  // It chains to the bundle through the identity service's issuer (discovery sends the chain).
  const issuer = new X509Certificate(peer.issuerCertificate.raw);
  const bundle = TrustBundle.fromPem(discovery.anchorsPem);
  expect(bundle.verify([leaf, issuer], new Date()).anchor.raw.equals(bundle.anchors[0].raw)).toBe(true);
  const certified = identity.cli
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.event === 'certify' && l.identity === DISCOVERY_IDENTITY);
  expect(certified.map((l) => [l.namespace, l.service_account, l.result])).toContainEqual(['lanyard', 'lanyard-discovery', 'ok']);

  const issued = discovery.logs().filter((l) => l.event === 'serving_certificate' && l.serial);
  expect(issued.map((l) => l.serial)).toContain(leaf.serialNumber);
  const expiry = Number(/^lanyard_discovery_certificate_expiry_timestamp_seconds (\S+)$/m.exec(await discovery.metrics())?.[1]);
  expect(expiry).toBe(Date.parse(leaf.validTo) / 1000);
  expect((await fetch(`http://${discovery.admin}/ready`)).status).toBe(200);
});

test('fail/a plaintext client gets no answer: discovery speaks only TLS', async () => {
  const plain = client();
  await expect(plain.resolve('10.0.0.2', 8080)).rejects.toBeInstanceOf(DiscoveryUnavailableError);
});
