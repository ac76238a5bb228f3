/**
 * checkIssuer is pure: certificate, key and bundle texts in, an Issuer or an IssuerError with
 * a stable code out. One row per refusal.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { checkIssuer, IssuerError, type IssuerMaterial } from '../../../src/identity/check-issuer.js';
import { ecPublicKeyOf } from '../../../src/pki/ec-key.js';
import { LeafSigner } from '../../../src/pki/leaf-signer.js';
import { encodePem } from '../../../src/pki/pem.js';
import { createIssuer } from '../../../certs/ca.js';
import { createTestPki, type TestPki } from '../../support/test-ca.js';

const DAY = 86_400_000;
let good: TestPki;
let material: IssuerMaterial;
beforeAll(async () => {
  good = await createTestPki();
  material = { certPem: good.issuer.certPem, keyPem: good.issuer.keyPem, bundlePem: good.anchor.certPem };
});

// Each row makes its material when it runs (the PKI is made in beforeAll).
const refusals: [string, () => Promise<IssuerMaterial>, string, RegExp][] = [
  ['fail/bundle-empty', async () => ({ ...material, bundlePem: '' }), 'ERR_ISSUER_BUNDLE', /trust bundle: no PEM CERTIFICATE/],
  ['fail/bundle-holds-a-leaf', async () => ({ ...material, bundlePem: (await leaf()).certPem }), 'ERR_ISSUER_BUNDLE', /is not a CA certificate/],
  ['fail/certificate-missing', async () => ({ ...material, certPem: 'not pem' }), 'ERR_ISSUER_CERT', /issuer certificate: no PEM CERTIFICATE/],
  ['fail/key-garbage', async () => ({ ...material, keyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }), 'ERR_ISSUER_KEY', /^issuer key: cannot parse/],
  ['fail/not-a-ca', async () => ({ ...material, ...(await leaf()) }), 'ERR_ISSUER_NOT_CA', /is not a CA certificate$/],
  [
    'fail/key-of-another-issuer',
    async () => ({ ...material, keyPem: (await createIssuer({ commonName: 'other', caCertPem: good.anchor.certPem, caKeyPem: good.anchor.keyPem })).keyPem }),
    'ERR_ISSUER_KEY_MISMATCH',
    /^issuer key does not match the certificate/,
  ],
  ['fail/expired', async () => pkiMaterial(await createTestPki({ anchor: good.anchor, issuerDays: 1, notBefore: new Date(Date.now() - 3 * DAY) })), 'ERR_ISSUER_EXPIRED', /expired at/],
  ['fail/not-yet-valid', async () => pkiMaterial(await createTestPki({ anchor: good.anchor, notBefore: new Date(Date.now() + DAY) })), 'ERR_ISSUER_NOT_YET_VALID', /is not valid before/],
  ['fail/foreign-anchor', async () => ({ ...pkiMaterial(await createTestPki()), bundlePem: good.anchor.certPem }), 'ERR_ISSUER_CHAIN', /does not chain to any trust anchor/],
  ['fail/path-length', async () => subIssuer(), 'ERR_ISSUER_CHAIN', /has path length 0 but 1 CA certificates follow it/],
];

test('ok/issuer, chain without the anchor, and validity from the certificate', () => {
  const i = checkIssuer(material, new Date());
  expect(i.fingerprint).toBe(good.issuerCert.fingerprint256);
  expect(i.chain).toEqual([good.issuerCert.raw]);
  expect(i.bundle.anchors.map((a) => a.fingerprint256)).toEqual([good.anchorCert.fingerprint256]);
  expect(i.notAfter.toISOString()).toBe(new Date(good.issuerCert.validTo).toISOString());
});

test('ok/the anchor may be in the certificate file too', () => {
  expect(checkIssuer({ ...material, certPem: material.certPem + good.anchor.certPem }, new Date()).chain).toEqual([good.issuerCert.raw]);
});

test.each(refusals)('%s', async (_name, make, code, message) => {
  const m = await make();
  const error = (() => {
    try {
      checkIssuer(m, new Date());
      return null;
    } catch (e) {
      return e as IssuerError;
    }
  })();
  expect(error).toBeInstanceOf(IssuerError);
  expect(error!.code).toBe(code);
  expect(error!.message).toMatch(message);
});

function pkiMaterial(p: TestPki): IssuerMaterial {
  return { certPem: p.issuer.certPem, keyPem: p.issuer.keyPem, bundlePem: p.anchor.certPem };
}

/** A workload leaf (CA:false) signed by the anchor, with its own key. */
async function leaf(): Promise<{ certPem: string; keyPem: string }> {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = new LeafSigner(good.anchorCert.raw, createPrivateKey(good.anchor.keyPem));
  const cert = await signer.sign({
    key: ecPublicKeyOf(kp.publicKey),
    dnsName: 'web.default.serviceaccount.identity.lanyard.cluster.local',
    spiffeId: 'spiffe://cluster.local/ns/default/sa/web',
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 3_600_000),
  });
  return { certPem: encodePem('CERTIFICATE', cert.der), keyPem: kp.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() };
}

/** An issuer signed by the (path length 0) issuer: one CA too many below it. */
async function subIssuer(): Promise<IssuerMaterial> {
  const sub = await createIssuer({ commonName: 'sub', caCertPem: good.issuer.certPem, caKeyPem: good.issuer.keyPem });
  return { certPem: sub.certPem + good.issuer.certPem, keyPem: sub.keyPem, bundlePem: good.anchor.certPem };
}

