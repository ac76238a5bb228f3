/**
 * `lanyard injector` as a real process: it gets its serving certificate for
 * lanyard-injector.lanyard.svc from a real identity service through Certify (its own token,
 * no issuer key), serves AdmissionReview v1 over TLS that verifies as the API server would
 * (the anchors as caBundle, the Service name), reads namespace annotations from the fake API
 * server through @kubernetes/client-node, and answers good and bad reviews without crashing.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { ExtraDnsNames } from '../../src/identity/extra-dns-names.js';
import { applyPatch } from '../../src/inject/json-patch.js';
import { isMeshedPod } from '../../src/inject/meshed-pod.js';
import { bundleFingerprint } from '../../src/pki/bundle-fingerprint.js';
import { TrustDomain } from '../../src/pki/names.js';
import { startLanyard, type RunningCli } from '../support/cli.js';
import { FakeKubeApi } from '../support/fake-kube-api.js';
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';
import { writeKubeconfig } from '../support/kubeconfig.js';

const SERVICE_NAME = 'lanyard-injector.lanyard.svc';
let identity: IdentityHarness;
let api: FakeKubeApi;
let injector: RunningCli;
let port: number;
let dir: string;

interface Reply {
  status: number;
  body: any;
  peer: PeerCertificate;
}

function post(body: string | Buffer, headers: Record<string, string> = { 'Content-Type': 'application/json' }, method = 'POST', path = '/inject'): Promise<Reply> {
  // Keep-alive, as the API server's client: a 413 sent before the body is all written is read, not reset.
  const agent = new Agent({ keepAlive: true });
  return new Promise<Reply>((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        headers,
        ca: identity.pki.anchor.certPem,
        servername: SERVICE_NAME,
        // What the API server checks: the certificate names the Service it called.
        checkServerIdentity: (_host, cert) => checkServerIdentity(SERVICE_NAME, cert),
        agent,
      },
      (res) => {
        const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : null, peer });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  }).finally(() => agent.destroy());
}

const pod = (annotations: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'web-', annotations },
  spec: { serviceAccountName: 'web', containers: [{ name: 'web', image: 'shop/web:1' }] },
});
const review = (namespace: string, object: unknown, kind = { group: '', version: 'v1', kind: 'Pod' }) =>
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: `uid-${namespace}`, kind, operation: 'CREATE', namespace, object } });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-injector-'));
  identity = await startIdentity({ extraDnsNames: ExtraDnsNames.parse(`lanyard-injector=${SERVICE_NAME}`, new TrustDomain()) });
  api = await FakeKubeApi.start();
  for (const [name, annotations] of [['shop', { 'lanyard.io/inject': 'enabled' }], ['quiet', {}], ['optout', { 'lanyard.io/inject': 'disabled' }]] as const) {
    api.resources.put({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, annotations } });
  }
  writeFileSync(join(dir, 'token'), await identity.tokens.mint('lanyard', 'lanyard-injector'));
  writeFileSync(join(dir, 'ca-bundle.crt'), identity.pki.anchor.certPem);
  injector = startLanyard([
    'injector',
    '--addr', '127.0.0.1:0',
    '--admin-addr', '127.0.0.1:0',
    '--identity-addr', `127.0.0.1:${identity.port}`,
    '--trust-anchors', join(dir, 'ca-bundle.crt'),
    '--token-file', join(dir, 'token'),
    '--kubeconfig', writeKubeconfig(dir, api),
    '--set', 'image.tag=v-test',
  ]);
  const line = await injector.waitFor(/[^\n]*"msg":"injector listening"[^\n]*/, 30_000);
  port = Number(/"addr":"127\.0\.0\.1:(\d+)"/.exec(line)![1]);
}, 60_000);

afterAll(async () => {
  await injector?.stop();
  await api?.stop();
  await identity?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('the injector webhook', () => {
  test('ok/it serves a Lanyard leaf for its Service name, chained to the anchors, issued through Certify', async () => {
    const r = await post(review('quiet', pod()));
    expect(r.status).toBe(200);
    expect(r.peer.subjectaltname).toBe(`DNS:lanyard-injector.lanyard.serviceaccount.identity.lanyard.cluster.local, DNS:${SERVICE_NAME}, URI:spiffe://cluster.local/ns/lanyard/sa/lanyard-injector`);
    expect(identity.logs.lines.some((l) => l.msg?.includes('certif') || l.identity === 'lanyard-injector.lanyard.serviceaccount.identity.lanyard.cluster.local')).toBe(true);
  });

  test('ok/a pod in a namespace annotated enabled gets a JSONPatch that meshes it', async () => {
    const p = pod();
    const r = await post(review('shop', p));
    expect(r.body.response).toMatchObject({ uid: 'uid-shop', allowed: true, patchType: 'JSONPatch' });
    const patched = applyPatch(p, JSON.parse(Buffer.from(r.body.response.patch, 'base64').toString()));
    expect(isMeshedPod(patched)).toBe(true);
    expect(patched.metadata.annotations).toEqual({
      'lanyard.io/proxy-version': 'v-test',
      'lanyard.io/trust-bundle-sha256': bundleFingerprint(identity.pki.anchor.certPem),
    });
  });

  test.each([
    ['a pod nobody asked to mesh', 'quiet', pod()],
    ['a namespace that opts out', 'optout', pod({ 'lanyard.io/inject': 'enabled' })],
    ['kube-system', 'kube-system', pod({ 'lanyard.io/inject': 'enabled' })],
    ['the control plane', 'lanyard', pod({ 'lanyard.io/inject': 'enabled' })],
  ])('ok/%s is allowed unchanged', async (_n, ns, object) => {
    const r = await post(review(ns, object));
    expect(r.status).toBe(200);
    expect(r.body.response).toEqual(expect.objectContaining({ uid: `uid-${ns}`, allowed: true }));
    expect(r.body.response.patch).toBeUndefined();
  });

  test('ok/a wrong kind is allowed unchanged, with a warning that says why', async () => {
    const r = await post(review('shop', { kind: 'Deployment' }, { group: 'apps', version: 'v1', kind: 'Deployment' }));
    expect(r.body.response).toMatchObject({ allowed: true, warnings: [expect.stringContaining('not a Pod (apps/v1/Deployment)')] });
  });

  test.each([
    ['garbage', 'not json {', { 'Content-Type': 'application/json' }, 'POST', '/inject', 400, /the body is not JSON/],
    ['JSON that is not a review', '{"kind":"Pod"}', { 'Content-Type': 'application/json' }, 'POST', '/inject', 400, /not an AdmissionReview v1: expected kind AdmissionReview/],
    ['a huge streamed body', Buffer.alloc(5 * 1024 * 1024, 0x20), { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, 'POST', '/inject', 413, /larger than the 4194304 bytes allowed/],
    ['a huge declared body', Buffer.alloc(5 * 1024 * 1024, 0x20), { 'Content-Type': 'application/json', 'Content-Length': String(5 * 1024 * 1024) }, 'POST', '/inject', 413, /5242880 bytes is larger/],
    ['the wrong content type', '{}', { 'Content-Type': 'text/plain' }, 'POST', '/inject', 415, /expected application\/json/],
    ['GET', '', {}, 'GET', '/inject', 405, /use POST/],
    ['another path', '{}', { 'Content-Type': 'application/json' }, 'POST', '/mutate', 404, /POST \/inject/],
  ])('fail/%s gets a 4xx with a message, and the next review is still answered', async (_n, body, headers, method, path, status, re) => {
    const r = await post(body as string, headers as Record<string, string>, method as string, path as string);
    expect(r.status).toBe(status);
    expect(r.body.message).toMatch(re);
    expect((await post(review('quiet', pod()))).status).toBe(200);
  });
});
