/**
 * Certificates for the check tests, made per run at fixed dates around NOW with the test CA
 * (test/support/test-ca.ts), plus the odd CAs it cannot make (RSA, SHA-1, no path length),
 * made with @peculiar/x509. No key is checked in.
 */
import 'reflect-metadata';
import { createPrivateKey, generateKeyPairSync, webcrypto, X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { createAnchor, createIssuer, type CaMaterial } from '../../../certs/ca.js';
import { ecPublicKeyOf } from '../../../src/pki/ec-key.js';
import { LeafSigner } from '../../../src/pki/leaf-signer.js';
import { encodePem } from '../../../src/pki/pem.js';
import type { PkiInput } from '../../../src/check/check-pki.js';

export const DAY = 86_400_000;
/** The checks' clock in these tests. */
export const NOW = new Date('2030-06-01T00:00:00Z');
export const at = (days: number): Date => new Date(NOW.getTime() + days * DAY);

export async function anchorCa(o: { cn?: string; from?: number; days?: number } = {}): Promise<CaMaterial> {
  return createAnchor({ commonName: o.cn ?? 'root.lanyard.cluster.local', notBefore: at(o.from ?? -100), validityDays: o.days ?? 3650 });
}

export async function issuerCa(parent: CaMaterial, o: { cn?: string; from?: number; days?: number } = {}): Promise<CaMaterial> {
  return createIssuer({ commonName: o.cn ?? 'identity.lanyard.cluster.local', caCertPem: parent.certPem, caKeyPem: parent.keyPem, notBefore: at(o.from ?? -10), validityDays: o.days ?? 365 });
}

export const cert = (m: CaMaterial | { certPem: string }): X509Certificate => new X509Certificate(m.certPem);

/** The PKI input of a bundle and an issuer, as files would give it. */
export function input(bundle: CaMaterial[] | string, issuer: CaMaterial | { certPem: string; keyPem: string | null }): PkiInput {
  const pem = typeof bundle === 'string' ? bundle : bundle.map((b) => b.certPem).join('');
  return { bundle: { ok: true, source: 'test bundle', pem }, issuer: { ok: true, source: 'test issuer', certPem: issuer.certPem, keyPem: issuer.keyPem } };
}

/** A workload leaf (not a CA) signed by `by`, with its key: what an issuer directory must not hold. */
export async function leafCa(by: CaMaterial, dnsName = 'web.default.serviceaccount.identity.lanyard.cluster.local'): Promise<{ certPem: string; keyPem: string }> {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = new LeafSigner(cert(by).raw, createPrivateKey(by.keyPem));
  const { der } = await signer.sign({
    key: ecPublicKeyOf(kp.publicKey),
    dnsName,
    spiffeId: 'spiffe://cluster.local/ns/default/sa/web',
    notBefore: at(-1),
    notAfter: at(1),
  });
  return { certPem: encodePem('CERTIFICATE', der), keyPem: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

const crypto = webcrypto as unknown as webcrypto.Crypto;

type OddAlg = { name: 'ECDSA'; namedCurve: 'P-256'; hash: 'SHA-1' } | { name: 'RSASSA-PKCS1-v1_5'; modulusLength: number; publicExponent: Uint8Array; hash: 'SHA-256' };

/** A self-signed CA with an algorithm certs/ca.ts never uses, and no path length limit. */
export async function oddCa(kind: 'rsa-2048' | 'rsa-1024' | 'ecdsa-sha1', cn = `odd-${kind}`): Promise<CaMaterial> {
  const alg: OddAlg =
    kind === 'ecdsa-sha1'
      ? { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-1' }
      : { name: 'RSASSA-PKCS1-v1_5', modulusLength: kind === 'rsa-2048' ? 2048 : 1024, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' };
  const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const c = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: '0a' + Math.floor(Math.random() * 1e12).toString(16),
      name: [{ CN: [cn] }],
      notBefore: at(-30),
      notAfter: at(3000),
      keys,
      signingAlgorithm: alg,
      extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
    },
    crypto,
  );
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', keys.privateKey));
  return { certPem: c.toString('pem') + '\n', keyPem: encodePem('PRIVATE KEY', der) };
}
