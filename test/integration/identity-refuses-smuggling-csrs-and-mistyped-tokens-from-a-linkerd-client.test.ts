/**
 * The probes of issue 7, end to end: a real `lanyard identity` process (dev validator),
 * called over TLS by a client generated from Linkerd's proto. Every forged CSR (extra SPKI
 * elements carrying 50 KB, hybrid points, smuggled SANs, non-minimal lengths, 50,000-char
 * names) and every mistyped token (`sub` an array, `iat` in the future, a 10,000-char
 * `sub`: as long as fits the 16 KiB request limit once base64url) is refused with its status
 * and code; a forgery too large for that limit is refused RESOURCE_EXHAUSTED before any of
 * our code reads it (the CA's own checks of those are in test/unit/identity/certify-rejections);
 * neither the grpc-message nor the audit line carries the caller's bytes; and the
 * odd-but-valid requests get leaves that are exactly our profile, which openssl verifies.
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { SignJWT } from 'jose';
import { startLanyard, type RunningCli } from '../support/cli.js';
import { ACCEPTED_CSRS, CsrForge, REFUSED_CSRS } from '../support/csr-forge.js';
import { encodePem } from '../../src/pki/pem.js';
import { MAX_REQUEST_BYTES } from '../../src/identity/identity-server.js';
import { encodeCertifyRequest } from '../../src/proto/certify-codec.js';

const here = dirname(fileURLToPath(import.meta.url));
const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const SPIFFE = 'spiffe://cluster.local/ns/default/sa/web';

type Reply = { leafCertificate: Buffer; intermediateCertificates: Buffer[] };
type Certify = (req: { identity: string; token: Buffer; certificateSigningRequest: Buffer }, cb: (err: grpc.ServiceError | null, r: Reply) => void) => void;

let dir: string;
let svc: RunningCli;
let client: grpc.Client & { Certify: Certify };
let signToken: (claims: Record<string, unknown>) => Promise<string>;
let anchorPem: string;

/** Audit lines of Certify decisions, in order. */
const audits = () =>
  svc
    .stdout()
    .split('\n')
    .filter((l) => l.includes('"event":"certify"'));

/** Resolves once the process has written `n` audit lines (an event: its stdout). */
function auditCount(n: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const check = () => {
      if (audits().length >= n) {
        svc.child.stdout!.off('data', check);
        clearTimeout(t);
        resolve(audits());
      }
    };
    const t = setTimeout(() => reject(new Error(`fewer than ${n} audit lines:\n${audits().join('\n')}`)), 20_000);
    svc.child.stdout!.on('data', check);
    check();
  });
}

const call = (token: string, csr: Buffer, identity = WEB) =>
  new Promise<{ err: grpc.ServiceError | null; res?: Reply }>((resolve) =>
    client.Certify({ identity, token: Buffer.from(token), certificateSigningRequest: csr }, (err, res) => resolve({ err, res })),
  );

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-probes-'));
  const pki = join(dir, 'pki');
  svc = startLanyard(['identity', '--issuer-dir', pki, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
  await svc.waitFor(/"msg":"identity service listening"/);
  const listening = JSON.parse(svc.stdout().split('\n').find((l) => l.includes('identity service listening'))!) as { addr: string; identity: string };
  anchorPem = readFileSync(join(pki, 'ca.crt'), 'utf8');
  const keyPem = readFileSync(join(pki, 'token-signing.key'), 'utf8');
  const kid = (JSON.parse(readFileSync(join(pki, 'token-signing.jwks.json'), 'utf8')) as { keys: { kid: string }[] }).keys[0].kid;
  signToken = (claims) => new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid, typ: 'JWT' }).sign(createPrivateKey(keyPem));

  const def = protoLoader.loadSync(join(here, '..', 'support', 'linkerd', 'identity.proto'), { keepCase: false, longs: String, defaults: false });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { io: { linkerd: { proxy: { identity: { Identity: grpc.ServiceClientConstructor } } } } };
  client = new pkg.io.linkerd.proxy.identity.Identity(listening.addr, grpc.credentials.createSsl(Buffer.from(anchorPem)), {
    'grpc.ssl_target_name_override': listening.identity,
  }) as unknown as typeof client;
}, 60_000);

afterAll(async () => {
  client?.close();
  await svc?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const now = () => Math.floor(Date.now() / 1000);
const claims = (over: Record<string, unknown> = {}) => ({
  iss: 'lanyard-dev',
  aud: ['identity.lanyard.io'],
  sub: 'system:serviceaccount:default:web',
  'kubernetes.io': { namespace: 'default', serviceaccount: { name: 'web', uid: 'u' } },
  iat: now(),
  exp: now() + 600,
  ...over,
});

const TOKEN_CASES: [string, Record<string, unknown>, string][] = [
  ['fail/token-iat-in-the-future', claims({ iat: now() + 600 }), 'ERR_TOKEN_NOT_YET_VALID'],
  ['fail/token-nbf-in-the-future', claims({ nbf: now() + 600 }), 'ERR_TOKEN_NOT_YET_VALID'],
  ['fail/token-sub-array', claims({ sub: ['system:serviceaccount:default:web'] }), 'ERR_TOKEN_MALFORMED'],
  ['fail/token-sub-number', claims({ sub: 7 }), 'ERR_TOKEN_MALFORMED'],
  ['fail/token-iss-array', claims({ iss: ['lanyard-dev'] }), 'ERR_TOKEN_MALFORMED'],
  ['fail/token-aud-number', claims({ aud: 1 }), 'ERR_TOKEN_MALFORMED'],
  ['fail/token-exp-string', claims({ exp: String(now() + 600) }), 'ERR_TOKEN_MALFORMED'],
  ['fail/token-kubernetes-namespace-array', claims({ 'kubernetes.io': { namespace: ['default'], serviceaccount: { name: 'web' } } }), 'ERR_TOKEN_MALFORMED'],
  ['fail/token-sub-10000-chars', claims({ sub: `system:serviceaccount:default:${'w'.repeat(10_000)}` }), 'ERR_TOKEN_NOT_SERVICE_ACCOUNT'],
];

test('forged CSRs and mistyped tokens are refused with their codes, and nothing long is echoed', async () => {
  const good = await signToken(claims());
  const expected: { name: string; status: grpc.status; code: string }[] = [];
  /** True when grpc-js refuses the request for its size, before our checks (and so without an audit line). */
  const oversize = (token: string, csr: Buffer) =>
    encodeCertifyRequest({ identity: WEB, token: Buffer.from(token), certificate_signing_request: csr }).length > MAX_REQUEST_BYTES;
  for (const c of REFUSED_CSRS) {
    const forged = c.build(new CsrForge(WEB));
    const { err } = await call(good, forged);
    if (oversize(good, forged)) {
      expect({ name: c.name, status: err?.code }).toEqual({ name: c.name, status: grpc.status.RESOURCE_EXHAUSTED });
      expect(err!.details).toMatch(/larger than max/);
      continue;
    }
    expect({ name: c.name, status: err?.code }).toEqual({ name: c.name, status: grpc.status.INVALID_ARGUMENT });
    expect(err!.details).toMatch(c.message);
    expect(err!.details.length).toBeLessThan(500);
    expected.push({ name: c.name, status: grpc.status.INVALID_ARGUMENT, code: c.code });
  }
  const csr = new CsrForge(WEB).build();
  for (const [name, payload, code] of TOKEN_CASES) {
    const token = await signToken(payload);
    expect({ name, oversize: oversize(token, csr) }).toEqual({ name, oversize: false });
    const { err } = await call(token, csr);
    expect({ name, status: err?.code }).toEqual({ name, status: grpc.status.UNAUTHENTICATED });
    expect(err!.details.length).toBeLessThan(500);
    expected.push({ name, status: grpc.status.UNAUTHENTICATED, code });
  }
  const lines = await auditCount(expected.length);
  const got = lines.slice(-expected.length).map((l, i) => {
    expect(l.length).toBeLessThan(1500); // the audit line never carries the 50 KB
    return { name: expected[i].name, reason: (JSON.parse(l) as { reason: string }).reason };
  });
  expect(got).toEqual(expected.map((e) => ({ name: e.name, reason: e.code })));
  expect(svc.stdout().length).toBeLessThan(200_000);
}, 120_000);

test('odd but valid requests get leaves that are exactly our profile, verified by openssl', async () => {
  const good = await signToken(claims());
  for (const c of ACCEPTED_CSRS) {
    const forge = new CsrForge(WEB);
    const { err, res } = await call(good, c.build(forge));
    expect({ name: c.name, err: err?.details ?? null }).toEqual({ name: c.name, err: null });
    const leaf = new X509Certificate(res!.leafCertificate);
    expect(leaf.subjectAltName).toBe(`DNS:${WEB}, URI:${SPIFFE}`);
    expect(leaf.ca).toBe(false);
    expect(leaf.publicKey.export({ format: 'der', type: 'spki' })).toEqual(forge.publicKey.export({ format: 'der', type: 'spki' }));
    writeFileSync(join(dir, 'anchor.pem'), anchorPem);
    writeFileSync(join(dir, 'chain.pem'), res!.intermediateCertificates.map((d) => encodePem('CERTIFICATE', d)).join(''));
    writeFileSync(join(dir, 'leaf.pem'), encodePem('CERTIFICATE', res!.leafCertificate));
    const out = execFileSync('openssl', ['verify', '-CAfile', join(dir, 'anchor.pem'), '-untrusted', join(dir, 'chain.pem'), join(dir, 'leaf.pem')], { encoding: 'utf8' });
    expect(out.trim()).toBe(`${join(dir, 'leaf.pem')}: OK`);
  }
}, 60_000);
