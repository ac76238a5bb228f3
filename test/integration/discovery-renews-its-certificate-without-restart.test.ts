/**
 * Discovery's serving certificate is renewed through Certify before it expires and swapped
 * into the running gRPC server: with 10-second leaves, a new connection is shown a new
 * certificate after the renewal, the proxy client's Watch opened before it keeps streaming
 * changes on the same connection, and after the first leaf's NotAfter discovery still
 * serves and is ready. The process is the same one throughout.
 */
import { X509Certificate } from 'node:crypto';
import { DiscoveryClient } from '../../proxy/discovery/discovery-client.js';
import { DISCOVERY_IDENTITY, startCertifiedDiscovery, type DiscoveryProcess } from '../support/discovery-process.js';
import { startIdentityProcess, until, type IdentityProcess } from '../support/identity-process.js';
import { LogSink } from '../support/log-sink.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const API = 'api.default.serviceaccount.identity.lanyard.cluster.local';
const DB = 'db.default.serviceaccount.identity.lanyard.cluster.local';

let identity: IdentityProcess;
let discovery: DiscoveryProcess;
let client: DiscoveryClient | null = null;

beforeAll(async () => {
  // 10s leaves (the shortest the service issues): discovery renews after about 7s.
  identity = await startIdentityProcess(['--lifetime', '10s']);
  discovery = await startCertifiedDiscovery(identity);
}, 60_000);

afterAll(async () => {
  client?.close();
  await discovery?.stop();
  await identity?.stop();
});

const issued = () => discovery.logs().filter((l) => l.event === 'serving_certificate' && typeof l.serial === 'string');
const expiryGauge = async () => Number(/^lanyard_discovery_certificate_expiry_timestamp_seconds (\S+)$/m.exec(await discovery.metrics())?.[1]);

test('ok/renewed in place: new connections get the new certificate, an open Watch keeps streaming, no restart', async () => {
  const pid = discovery.cli.child.pid;
  const logs = new LogSink();
  discovery.endpoints([{ address: '10.0.0.2', identity: WEB }]);
  client = new DiscoveryClient({ address: discovery.addr, tls: { serverName: DISCOVERY_IDENTITY, trustAnchorsPem: discovery.anchorsPem }, logger: logs.logger(), resolveTimeoutMs: 3000 });
  await until(() => client!.resolve('10.0.0.2', 8080), (e) => e.identity === WEB, 10_000, 'the first answer');

  const first = new X509Certificate((await discovery.peerCertificate()).raw);
  const k = issued().findIndex((l) => l.serial === first.serialNumber);
  expect(k).toBeGreaterThanOrEqual(0);
  const latestNotAfter = () => Date.parse(String(issued()[issued().length - 1].not_after)) / 1000;
  expect(await expiryGauge()).toBe(latestNotAfter());

  await until(async () => issued().length, (n) => n > k + 1, 20_000, 'the renewal');
  const second = new X509Certificate((await discovery.peerCertificate()).raw);
  expect(issued().slice(k + 1).map((l) => l.serial)).toContain(second.serialNumber);
  expect(second.serialNumber).not.toBe(first.serialNumber);
  expect(Date.parse(second.validTo)).toBeGreaterThan(Date.parse(first.validTo));
  expect(await expiryGauge()).toBe(latestNotAfter());

  // The Watch opened before the renewal still carries changes, and never had to reconnect.
  discovery.endpoints([{ address: '10.0.0.2', identity: API }]);
  await until(() => client!.resolve('10.0.0.2', 8080), (e) => e.identity === API, 10_000, 'a change on the open Watch');
  expect(logs.where({ event: 'discovery_stream_failed' })).toEqual([]);

  // Past the first leaf's NotAfter: still served, still ready, by the same process.
  const firstExpired = Date.parse(first.validTo) + 1000;
  await until(async () => Date.now(), (now) => now > firstExpired, 20_000, "the first leaf's expiry");
  const later = await discovery.peerCertificate();
  expect(Date.parse(later.valid_to)).toBeGreaterThan(Date.now());
  expect((await fetch(`http://${discovery.admin}/ready`)).status).toBe(200);
  discovery.endpoints([{ address: '10.0.0.2', identity: DB }]);
  await until(() => client!.resolve('10.0.0.2', 8080), (e) => e.identity === DB, 10_000, 'a change after the first leaf expired');
  expect(logs.where({ event: 'discovery_stream_failed' })).toEqual([]);
  expect(discovery.cli.child.pid).toBe(pid);
  expect(discovery.cli.child.exitCode).toBeNull();
}, 60_000);
