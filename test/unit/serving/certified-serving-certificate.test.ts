/**
 * A control-plane serving certificate (the injector's, discovery's) is installed only if it
 * is what was asked for: a chain to the anchors, naming its identity and any extra names, for
 * its own key. Anything else is refused, the reason kept, and the call retried with backoff.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CertifiedServingCertificate, type CertifyCall, type ServingKeyPair } from '../../../src/serving/certified-serving-certificate.js';
import { parseCsr } from '../../../src/pki/csr.js';
import { ecPublicKeyOf } from '../../../src/pki/ec-key.js';
import { LeafSigner } from '../../../src/pki/leaf-signer.js';
import { createTestPki, type TestPki } from '../../support/test-ca.js';
import { LogSink } from '../../support/log-sink.js';

const ID = 'lanyard-injector.lanyard.serviceaccount.identity.lanyard.cluster.local';
const SVC = 'lanyard-injector.lanyard.svc';
const tokenFile = join(mkdtempSync(join(tmpdir(), 'lanyard-csc-')), 'token');
writeFileSync(tokenFile, 'tok');

/** A Certify that signs with `pki`, for the CSR's key unless `otherKey`, with `names`. */
function signer(pki: TestPki, names: string[], otherKey = false): CertifyCall & { calls: number } {
  const s = new LeafSigner(pki.issuerCert.raw, pki.issuerKey);
  const call = {
    calls: 0,
    async certify(_identity: string, _token: Buffer, csr: Buffer) {
      call.calls++;
      const key = otherKey ? ecPublicKeyOf(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey) : parseCsr(csr).key!;
      const now = Date.now();
      const { der } = await s.sign({ key, dnsName: names[0], extraDnsNames: names.slice(1), spiffeId: 'spiffe://cluster.local/ns/lanyard/sa/lanyard-injector', notBefore: new Date(now - 1000), notAfter: new Date(now + 3_600_000) });
      return { leaf_certificate: der, intermediate_certificates: [pki.issuerCert.raw] };
    },
  };
  return call;
}

async function attempt(pki: TestPki, client: CertifyCall, anchors = pki.anchor.certPem) {
  const got: ServingKeyPair[] = [];
  const c = new CertifiedServingCertificate({ client, identity: ID, extraDnsNames: [SVC], tokenFile, trustAnchorsPem: anchors, logger: new LogSink().logger(), onCertificate: (p) => got.push(p), minBackoffMs: 20, maxBackoffMs: 40 });
  c.start();
  return { c, got };
}

const waitFor = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setImmediate(r));
};

test('ok/a proper chain for our key and names is handed over', async () => {
  const pki = await createTestPki();
  const { c, got } = await attempt(pki, signer(pki, [ID, SVC]));
  await c.ready;
  expect(got).toHaveLength(1);
  expect(c.failure).toBeNull();
  expect(got[0].chainPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2);
  c.stop();
});

test.each([
  ['a chain to other anchors', async (pki: TestPki) => ({ client: signer(await createTestPki(), [ID, SVC]), anchors: pki.anchor.certPem }), /does not chain to any trust anchor/],
  ['a certificate without the Service name', async (pki: TestPki) => ({ client: signer(pki, [ID]), anchors: pki.anchor.certPem }), /lacks DNS name lanyard-injector\.lanyard\.svc/],
  ['a certificate for another key', async (pki: TestPki) => ({ client: signer(pki, [ID, SVC], true), anchors: pki.anchor.certPem }), /not for our key/],
  ['a failing call', async (pki: TestPki) => ({ client: { calls: 0, certify: async function (this: { calls: number }) { this.calls++; throw new Error('Certify failed: UNAVAILABLE: no issuer'); } }, anchors: pki.anchor.certPem }), /UNAVAILABLE: no issuer/],
])('fail/%s is refused, kept as the reason, and retried', async (_n, make, re) => {
  const pki = await createTestPki();
  const { client, anchors } = await make(pki);
  const { c, got } = await attempt(pki, client as CertifyCall, anchors);
  await waitFor(() => (client as { calls: number }).calls >= 3);
  c.stop();
  expect(got).toEqual([]);
  expect(c.certificate).toBeNull();
  expect(c.failure).toMatch(re);
});
