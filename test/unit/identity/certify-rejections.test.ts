/**
 * Every way a Certify request can be refused, one named case each, against the real
 * certificate authority (real PKI, real token verification), in-process. Run once per CSR
 * verifier: node:crypto, and the native addon's when it is built; both give the same answers.
 */
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { CompactSign, SignJWT } from 'jose';
import { status } from '@grpc/grpc-js';
import { CertificateAuthority } from '../../../src/identity/certificate-authority.js';
import { classify } from '../../../src/identity/errors.js';
import type { Issuer } from '../../../src/identity/issuer-store.js';
import { parseCsr, type CsrSignatureVerifier } from '../../../src/pki/csr.js';
import { LeafSigner } from '../../../src/pki/leaf-signer.js';
import { TrustBundle } from '../../../src/pki/trust-bundle.js';
import { TrustDomain } from '../../../src/pki/names.js';
import { createTestPki, workloadCsr, type TestPki } from '../../support/test-ca.js';
import { TokenAuthority } from '../../support/token-authority.js';
import { buildTestCsr } from '../../support/csr-builder.js';
import { ACCEPTED_CSRS, CsrForge, REFUSED_CSRS } from '../../support/csr-forge.js';
import { loadNative } from '../../../proxy/native/index.js';

const native = loadNative();
const VERIFIERS: [string, CsrSignatureVerifier | undefined][] = [['node', undefined]];
if (native) VERIFIERS.push(['native', native.ecdsaVerify]);

const td = new TrustDomain();
const WEB = td.identity({ namespace: 'default', serviceAccount: 'web' });

let pki: TestPki;
let tokens: TokenAuthority;
let issuer: Issuer | null;
const cas = new Map<string, CertificateAuthority>();
let goodToken: string;
let goodCsr: Buffer;

beforeAll(async () => {
  pki = await createTestPki();
  tokens = await TokenAuthority.create();
  const signer = new LeafSigner(pki.issuerCert.raw, pki.issuerKey);
  issuer = {
    certificate: pki.issuerCert,
    signer,
    chain: [pki.issuerCert.raw],
    bundle: TrustBundle.fromPem(pki.anchor.certPem),
    notBefore: signer.issuer.notBefore,
    notAfter: signer.issuer.notAfter,
    fingerprint: pki.issuerCert.fingerprint256,
  };
  const validator = tokens.validator();
  for (const [name, csrVerifier] of VERIFIERS) {
    cas.set(
      name,
      new CertificateAuthority({
        trustDomain: td,
        issuers: { current: () => issuer, unavailableReason: () => 'no valid issuer loaded from /test: missing' },
        validator,
        csrVerifier,
      }),
    );
  }
  goodToken = await tokens.mint('default', 'web');
  goodCsr = workloadCsr(WEB).csr;
});

const now = () => Math.floor(Date.now() / 1000);
const k8sClaims = (ns: string, sa: string) => ({ sub: `system:serviceaccount:${ns}:${sa}`, 'kubernetes.io': { namespace: ns, serviceaccount: { name: sa } } });
/** Claims of a good token for default/web, with `over` replacing or (undefined) removing some. */
const webClaims = (over: Record<string, unknown> = {}) => {
  const c: Record<string, unknown> = { ...k8sClaims('default', 'web'), iss: tokens.issuer, aud: ['identity.lanyard.io'], exp: now() + 600, ...over };
  for (const k of Object.keys(c)) if (c[k] === undefined) delete c[k];
  return c;
};
/** A token whose payload is exactly `json` (to write what JSON.stringify cannot, e.g. 1e999). */
const rawPayloadToken = (json: string) =>
  new CompactSign(Buffer.from(json)).setProtectedHeader({ alg: 'ES256', kid: tokens.kid }).sign(createPrivateKey(tokens.keyPem));

interface Case {
  name: string;
  identity?: string;
  token?: () => Promise<string>;
  csr?: () => Promise<Buffer>;
  noIssuer?: boolean;
  grpc: status;
  code: string;
  message: RegExp;
}

const cases: Case[] = [
  { name: 'fail/missing-identity', identity: '', grpc: status.INVALID_ARGUMENT, code: 'ERR_REQUEST_MALFORMED', message: /^identity: required$/ },
  { name: 'fail/missing-token', token: async () => '', grpc: status.INVALID_ARGUMENT, code: 'ERR_REQUEST_MALFORMED', message: /^token: required$/ },
  { name: 'fail/missing-csr', csr: async () => Buffer.alloc(0), grpc: status.INVALID_ARGUMENT, code: 'ERR_REQUEST_MALFORMED', message: /^certificate_signing_request: required$/ },
  { name: 'fail/malformed-identity', identity: 'web.default.svc.cluster.local', grpc: status.INVALID_ARGUMENT, code: 'ERR_IDENTITY_MALFORMED', message: /not a workload identity; expected <sa>\.<ns>\.serviceaccount\.identity\.lanyard\.cluster\.local/ },
  { name: 'fail/identity-upper-case', identity: 'Web.default.serviceaccount.identity.lanyard.cluster.local', grpc: status.INVALID_ARGUMENT, code: 'ERR_IDENTITY_MALFORMED', message: /not a workload identity/ },
  { name: 'fail/issuer-missing', noIssuer: true, grpc: status.UNAVAILABLE, code: 'ERR_ISSUER_UNAVAILABLE', message: /no valid issuer/ },
  { name: 'fail/token-garbage', token: async () => 'not-a-jwt', grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_MALFORMED', message: /token: not a JWT/ },
  { name: 'fail/token-expired', token: () => tokens.mint('default', 'web', { now: Date.now() - 7_200_000, ttlMs: 3_600_000 }), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_EXPIRED', message: /token: expired/ },
  { name: 'fail/token-not-yet-valid', token: () => tokens.mint('default', 'web', { now: Date.now() + 600_000 }), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_NOT_YET_VALID', message: /not yet valid|issued in the future/ },
  { name: 'fail/token-wrong-audience', token: () => tokens.mint('default', 'web', { audience: 'vault' }), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_AUDIENCE', message: /audience/ },
  {
    name: 'fail/token-wrong-issuer',
    token: () => tokens.signClaims({ ...k8sClaims('default', 'web'), iss: 'https://evil.example', aud: ['identity.lanyard.io'], exp: now() + 600 }),
    grpc: status.UNAUTHENTICATED,
    code: 'ERR_TOKEN_ISSUER',
    message: /issuer/,
  },
  {
    name: 'fail/token-bad-signature',
    token: async () => {
      const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
      return new SignJWT({ ...k8sClaims('default', 'web'), iss: tokens.issuer, aud: ['identity.lanyard.io'], exp: now() + 600 })
        .setProtectedHeader({ alg: 'ES256', kid: tokens.kid })
        .sign(other);
    },
    grpc: status.UNAUTHENTICATED,
    code: 'ERR_TOKEN_SIGNATURE',
    message: /signature does not verify/,
  },
  {
    name: 'fail/token-unknown-kid',
    token: async () =>
      new SignJWT({ ...k8sClaims('default', 'web'), iss: tokens.issuer, aud: ['identity.lanyard.io'], exp: now() + 600 })
        .setProtectedHeader({ alg: 'ES256', kid: 'rotated-away' })
        .sign(createPrivateKey(tokens.keyPem)),
    grpc: status.UNAUTHENTICATED,
    code: 'ERR_TOKEN_SIGNATURE',
    message: /not in the JWKS/,
  },
  {
    name: 'fail/token-not-service-account',
    token: () => tokens.signClaims({ sub: 'alice', iss: tokens.issuer, aud: ['identity.lanyard.io'], exp: now() + 600 }),
    grpc: status.UNAUTHENTICATED,
    code: 'ERR_TOKEN_NOT_SERVICE_ACCOUNT',
    message: /not system:serviceaccount/,
  },
  {
    name: 'fail/token-without-kubernetes-claim',
    token: () => tokens.signClaims({ sub: 'system:serviceaccount:default:web', iss: tokens.issuer, aud: ['identity.lanyard.io'], exp: now() + 600 }),
    grpc: status.UNAUTHENTICATED,
    code: 'ERR_TOKEN_NOT_SERVICE_ACCOUNT',
    message: /kubernetes\.io/,
  },
  { name: 'fail/token-iat-in-the-future', token: () => tokens.signClaims(webClaims({ iat: now() + 600 })), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_NOT_YET_VALID', message: /issued in the future \(iat/ },
  { name: 'fail/token-nbf-in-the-future', token: () => tokens.signClaims(webClaims({ nbf: now() + 600 })), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_NOT_YET_VALID', message: /nbf is in the future/ },
  { name: 'fail/token-sub-array', token: () => tokens.signClaims(webClaims({ sub: ['system:serviceaccount:default:web'] })), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_MALFORMED', message: /claim "sub" must be a string, found an array/ },
  { name: 'fail/token-sub-number', token: () => tokens.signClaims(webClaims({ sub: 42 })), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_MALFORMED', message: /claim "sub" must be a string, found a number/ },
  { name: 'fail/token-iss-array', token: () => tokens.signClaims(webClaims({ iss: [tokens.issuer] })), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_MALFORMED', message: /claim "iss" must be a string, found an array/ },
  { name: 'fail/token-aud-number', token: () => tokens.signClaims(webClaims({ aud: 7 })), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_MALFORMED', message: /claim "aud" must be a string or an array of strings/ },
  { name: 'fail/token-aud-array-with-object', token: () => tokens.signClaims(webClaims({ aud: ['identity.lanyard.io', {}] })), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_MALFORMED', message: /claim "aud" must be a string or an array of strings, found an array/ },
  { name: 'fail/token-exp-string', token: () => tokens.signClaims(webClaims({ exp: String(now() + 600) })), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_MALFORMED', message: /claim "exp" must be a finite number/ },
  { name: 'fail/token-exp-not-finite', token: async () => rawPayloadToken(JSON.stringify(webClaims({ exp: 1 })).replace('"exp":1', '"exp":1e999')), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_MALFORMED', message: /claim "exp" must be a finite number/ },
  { name: 'fail/token-iat-boolean', token: () => tokens.signClaims(webClaims({ iat: true })), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_MALFORMED', message: /claim "iat" must be a finite number \(NumericDate\), found a boolean/ },
  { name: 'fail/token-kubernetes-claim-array', token: () => tokens.signClaims(webClaims({ 'kubernetes.io': [] })), grpc: status.UNAUTHENTICATED, code: 'ERR_TOKEN_MALFORMED', message: /claim "kubernetes.io" must be an object, found an array/ },
  {
    name: 'fail/token-kubernetes-namespace-array',
    token: () => tokens.signClaims(webClaims({ 'kubernetes.io': { namespace: ['default'], serviceaccount: { name: 'web' } } })),
    grpc: status.UNAUTHENTICATED,
    code: 'ERR_TOKEN_MALFORMED',
    message: /claim "kubernetes.io".namespace must be a string, found an array/,
  },
  {
    name: 'fail/token-kubernetes-service-account-name-array',
    token: () => tokens.signClaims(webClaims({ 'kubernetes.io': { namespace: 'default', serviceaccount: { name: ['web'] } } })),
    grpc: status.UNAUTHENTICATED,
    code: 'ERR_TOKEN_MALFORMED',
    message: /claim "kubernetes.io".serviceaccount.name must be a string, found an array/,
  },
  {
    name: 'fail/token-sub-50000-chars',
    token: () => tokens.signClaims(webClaims({ sub: `system:serviceaccount:default:${'a'.repeat(50_000)}` })),
    grpc: status.UNAUTHENTICATED,
    code: 'ERR_TOKEN_NOT_SERVICE_ACCOUNT',
    message: /^token: subject "system:serviceaccount:default:a{50}…" is not system:serviceaccount/,
  },
  {
    name: 'fail/identity-50000-chars',
    identity: `${'a'.repeat(50_000)}.default.serviceaccount.identity.lanyard.cluster.local`,
    grpc: status.INVALID_ARGUMENT,
    code: 'ERR_IDENTITY_MALFORMED',
    message: /^identity: "a{300}…" is not a workload identity/,
  },
  { name: 'fail/token-for-another-service-account', token: () => tokens.mint('default', 'api'), grpc: status.PERMISSION_DENIED, code: 'ERR_IDENTITY_MISMATCH', message: /requested web\.default.* service account default\/api/ },
  { name: 'fail/csr-garbage', csr: async () => Buffer.from('this is not a certificate request'), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_MALFORMED', message: /not a DER PKCS#10/ },
  { name: 'fail/csr-truncated', csr: async () => goodCsr.subarray(0, goodCsr.length - 10), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_MALFORMED', message: /truncated/ },
  { name: 'fail/csr-trailing-bytes', csr: async () => Buffer.concat([goodCsr, Buffer.from([0])]), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_MALFORMED', message: /trailing/ },
  {
    name: 'fail/csr-bad-self-signature',
    csr: async () => {
      const b = Buffer.from(workloadCsr(WEB).csr);
      b[b.length - 5] ^= 0x40;
      return b;
    },
    grpc: status.INVALID_ARGUMENT,
    code: 'ERR_CSR_SIGNATURE',
    message: /self-signature does not verify/,
  },
  {
    name: 'fail/csr-point-not-on-curve',
    csr: async () => {
      const b = Buffer.from(workloadCsr(WEB).csr);
      const point = parseCsr(b).key!.point;
      b[b.indexOf(point) + point.length - 1] ^= 0x01;
      return b;
    },
    grpc: status.INVALID_ARGUMENT,
    code: 'ERR_CSR_MALFORMED',
    message: /public key is not a valid P-256 point/,
  },
  { name: 'fail/csr-rsa-key', csr: () => buildTestCsr({ key: 'RSA', dns: [WEB] }), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_KEY_TYPE', message: /ECDSA P-256 or P-384, found RSA/ },
  { name: 'fail/csr-ed25519-key', csr: () => buildTestCsr({ key: 'Ed25519', dns: [WEB] }), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_KEY_TYPE', message: /found Ed25519/ },
  { name: 'fail/csr-p521-key', csr: () => buildTestCsr({ key: 'P-521', dns: [WEB] }), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_KEY_TYPE', message: /found EC curve 1\.3\.132\.0\.35/ },
  { name: 'fail/csr-other-dns-name', csr: () => buildTestCsr({ dns: ['api.default.serviceaccount.identity.lanyard.cluster.local'] }), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_SAN_MISMATCH', message: /must be exactly \[web\.default/ },
  { name: 'fail/csr-two-dns-names', csr: () => buildTestCsr({ dns: [WEB, 'evil.example.com'] }), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_SAN_MISMATCH', message: /found \["web\.default.*", "evil\.example\.com"\]/ },
  { name: 'fail/csr-no-san', csr: () => buildTestCsr({ cn: WEB }), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_SAN_MISMATCH', message: /found \[\]/ },
  { name: 'fail/csr-ip-san', csr: () => buildTestCsr({ dns: [WEB], ip: ['10.0.0.1'] }), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_FORBIDDEN_SAN', message: /DNS only, found IP/ },
  { name: 'fail/csr-uri-san', csr: () => buildTestCsr({ dns: [WEB], uri: ['spiffe://cluster.local/ns/default/sa/admin'] }), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_FORBIDDEN_SAN', message: /found URI/ },
  { name: 'fail/csr-email-san', csr: () => buildTestCsr({ dns: [WEB], email: ['web@example.com'] }), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_FORBIDDEN_SAN', message: /found email/ },
  { name: 'fail/csr-other-common-name', csr: () => buildTestCsr({ cn: 'admin', dns: [WEB] }), grpc: status.INVALID_ARGUMENT, code: 'ERR_CSR_COMMON_NAME', message: /Common Name must be empty or web\.default.*found "admin"/ },
  ...REFUSED_CSRS.map((c) => ({ name: c.name, csr: async () => c.build(new CsrForge(WEB)), grpc: status.INVALID_ARGUMENT, code: c.code, message: c.message })),
];

/** No refusal message may carry much of the caller's input (grpc-message and the audit line). */
const MAX_ECHO = 500;

describe.each(VERIFIERS.map(([name]) => name))('with the %s CSR verifier', (verifier) => {
  describe('Certify refuses, with a precise code and message', () => {
    test.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
      const ca = cas.get(verifier)!;
      const saved = issuer;
      if (c.noIssuer) issuer = null;
      try {
        const req = {
          identity: c.identity ?? WEB,
          token: Buffer.from(c.token ? await c.token() : goodToken),
          certificate_signing_request: c.csr ? await c.csr() : goodCsr,
        };
        const err = await ca.certify(req).then(
          () => null,
          (e: unknown) => e,
        );
        expect(err).not.toBeNull();
        const got = classify(err);
        expect({ code: got.code, grpc: status[got.grpc] }).toEqual({ code: c.code, grpc: status[c.grpc] });
        expect(got.message).toMatch(c.message);
        expect(got.message.length).toBeLessThan(MAX_ECHO);
      } finally {
        issuer = saved;
      }
    });
  });

  describe('Certify accepts', () => {
    test.each([
      ['ok/p256-empty-subject', () => Promise.resolve(workloadCsr(WEB).csr)],
      ['ok/p384-key', () => Promise.resolve(workloadCsr(WEB, 'P-384').csr)],
      ['ok/common-name-equal-to-identity', () => buildTestCsr({ cn: WEB, dns: [WEB] })],
      ['ok/csr-from-another-encoder', () => buildTestCsr({ dns: [WEB] })],
    ])('%s', async (_name, makeCsr) => {
      const res = await cas.get(verifier)!.certify({ identity: WEB, token: Buffer.from(goodToken), certificate_signing_request: await makeCsr() });
      expect(res.leaf.length).toBeGreaterThan(200);
      expect(res.chain).toHaveLength(1);
    });

    test('ok/token-iat-within-the-skew', async () => {
      const token = await tokens.signClaims(webClaims({ iat: now() + 10 }));
      await expect(cas.get(verifier)!.certify({ identity: WEB, token: Buffer.from(token), certificate_signing_request: goodCsr })).resolves.toHaveProperty('serial');
    });

    // Odd but acceptable requests: the leaf is still exactly our profile, its key the
    // request's key (uncompressed), and nothing else from the request in it.
    test.each(ACCEPTED_CSRS.map((c) => [c.name, c] as const))('%s yields exactly our leaf profile', async (_name, c) => {
      const forge = new CsrForge(WEB);
      const res = await cas.get(verifier)!.certify({ identity: WEB, token: Buffer.from(goodToken), certificate_signing_request: c.build(forge) });
      const leaf = new X509Certificate(res.leaf);
      expect(leaf.verify(pki.issuerCert.publicKey)).toBe(true);
      expect(leaf.subject ?? '').toBe('');
      expect(leaf.subjectAltName).toBe(`DNS:${WEB}, URI:spiffe://cluster.local/ns/default/sa/web`);
      expect(leaf.ca).toBe(false);
      expect(leaf.publicKey.export({ format: 'der', type: 'spki' })).toEqual(forge.publicKey.export({ format: 'der', type: 'spki' }));
      expect(res.leaf.includes(forge.compressedPoint)).toBe(false);
    });
  });
});
