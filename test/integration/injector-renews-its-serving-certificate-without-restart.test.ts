/**
 * The webhook's serving certificate is renewed through Certify before it expires and swapped
 * into the running HTTPS server: new connections get the new certificate, a connection that
 * was open keeps working, and the process never restarts (Linkerd #5551/#5888).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, type TLSSocket } from 'node:tls';
import { ExtraDnsNames } from '../../src/identity/extra-dns-names.js';
import { CertifiedServingCertificate, type ServingKeyPair } from '../../src/serving/certified-serving-certificate.js';
import { injectConfigFrom } from '../../src/inject/inject-config.js';
import { InjectorServer } from '../../src/inject/injector-server.js';
import { loadValues } from '../../src/install/load-values.js';
import { TrustDomain } from '../../src/pki/names.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';
import { LogSink } from '../support/log-sink.js';

const SVC = 'lanyard-injector.lanyard.svc';
const REVIEW = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', kind: { group: '', version: 'v1', kind: 'Pod' }, operation: 'CREATE', namespace: 'shop', object: { spec: { containers: [{ name: 'a' }] } } } });

let h: IdentityHarness;
let dir: string;
let cert: CertifiedServingCertificate;
let server: InjectorServer;
let port: number;
const issued: ServingKeyPair[] = [];
const waiters: (() => void)[] = [];

function call(agent: Agent): Promise<{ serial: string; status: number; reused: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, method: 'POST', path: '/inject', headers: { 'Content-Type': 'application/json' }, agent, ca: h.pki.anchor.certPem, servername: SVC, checkServerIdentity: (_h, c) => checkServerIdentity(SVC, c) },
      (res) => {
        const socket = res.socket as TLSSocket;
        const serial = socket.getPeerCertificate().serialNumber;
        const reused = socket.isSessionReused() || (socket as unknown as { _lanyardSeen?: boolean })._lanyardSeen === true;
        (socket as unknown as { _lanyardSeen?: boolean })._lanyardSeen = true;
        res.resume();
        res.on('end', () => resolve({ serial, status: res.statusCode ?? 0, reused }));
      },
    );
    req.on('error', reject);
    req.end(REVIEW);
  });
}

const nextCertificate = () => new Promise<void>((resolve) => waiters.push(resolve));

beforeAll(async () => {
  // Leaves live 4s: the injector renews at 70%, after about 2.8s.
  h = await startIdentity({ lifetimeMs: 4000, skewMs: 0, extraDnsNames: ExtraDnsNames.parse(`lanyard-injector=${SVC}`, new TrustDomain()) });
  dir = mkdtempSync(join(tmpdir(), 'lanyard-injector-renew-'));
  writeFileSync(join(dir, 'token'), await h.tokens.mint('lanyard', 'lanyard-injector'));
  const logs = new LogSink();
  server = new InjectorServer({
    host: '127.0.0.1',
    port: 0,
    config: () => injectConfigFrom(loadValues('0.1.0', {}), null),
    namespaces: { annotations: async () => ({}) },
    excludedNamespaces: ['kube-system'],
    logger: logs.logger('injector'),
    registry: createRegistry(),
  });
  cert = new CertifiedServingCertificate({
    client: h.client(),
    identity: 'lanyard-injector.lanyard.serviceaccount.identity.lanyard.cluster.local',
    extraDnsNames: [SVC],
    tokenFile: join(dir, 'token'),
    trustAnchorsPem: h.pki.anchor.certPem,
    logger: logs.logger('injector'),
    onCertificate: (pair) => {
      issued.push(pair);
      server.updateCertificate(pair);
      waiters.splice(0).forEach((w) => w());
    },
  });
  cert.start();
  await cert.ready;
  port = (await server.start(cert.certificate!)).port;
});

afterAll(async () => {
  cert?.stop();
  await server?.close();
  await h?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('ok/new connections get the renewed certificate and an open connection keeps working', async () => {
  const kept = new Agent({ keepAlive: true, maxSockets: 1 });
  const renewal = nextCertificate();
  const first = await call(kept);
  const served = issued.find((p) => p.serial === first.serial)!;
  expect(first.status).toBe(200);
  expect(served).toBeDefined();

  await renewal;
  const renewed = issued[issued.length - 1];
  expect(renewed.serial).not.toBe(first.serial);
  expect(renewed.notAfter.getTime()).toBeGreaterThan(served.notAfter.getTime());

  const fresh = new Agent({ keepAlive: false });
  const after = await call(fresh);
  expect(after).toMatchObject({ status: 200, serial: renewed.serial });

  // The connection opened before the renewal is still the same TLS session with the old certificate.
  const again = await call(kept);
  expect(again).toMatchObject({ status: 200, serial: first.serial, reused: true });
  kept.destroy();
  fresh.destroy();
}, 30_000);

test('ok/it keeps renewing: the certificate never expires while the identity service is up', async () => {
  const before = issued.length;
  await nextCertificate();
  expect(issued.length).toBe(before + 1);
  expect(cert.certificate!.notAfter.getTime()).toBeGreaterThan(Date.now());
  expect(cert.failure).toBeNull();
}, 30_000);
