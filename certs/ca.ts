/**
 * Trust anchors and issuers: the operator's CA certificates, made with @peculiar/x509.
 *
 * Anchors are self-signed roots that every proxy trusts; issuers are intermediate CAs
 * signed by an anchor, whose key the identity service signs leaves with. Both are
 * ECDSA P-256 by default (P-384 on request), as Linkerd's are.
 */
import 'reflect-metadata';
import { createPrivateKey, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import * as x509 from '@peculiar/x509';

export type Curve = 'P-256' | 'P-384';

/** A CA certificate and its key, both PEM. */
export interface CaMaterial {
  certPem: string;
  keyPem: string;
}

export interface AnchorConfig {
  /** Subject CN. Default `root.<control-ns>.<trust-domain>`, e.g. `root.lanyard.cluster.local`. */
  commonName: string;
  /** Default 3650 days. */
  validityDays?: number;
  /** Lifetime in milliseconds; wins over `validityDays` (the CLI takes durations like `8760h`). */
  validityMs?: number;
  /** Default P-256. */
  curve?: Curve;
  /** Default: now. */
  notBefore?: Date;
  /** Crypto provider; default Node's WebCrypto. */
  crypto?: webcrypto.Crypto;
}

export interface IssuerConfig extends AnchorConfig {
  /** The signing CA (usually the anchor). */
  caCertPem: string;
  caKeyPem: string;
  /** Default 365 days; clamped to the signing CA's NotAfter. */
  validityDays?: number;
}

const DAY = 86_400_000;
const ALG: Record<Curve, EcKeyGenParams & EcdsaParams> = {
  'P-256': { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' },
  'P-384': { name: 'ECDSA', namedCurve: 'P-384', hash: 'SHA-384' },
};
type EcKeyGenParams = { name: string; namedCurve: string };
type EcdsaParams = { hash: string };

const defaultCrypto = (): webcrypto.Crypto => webcrypto as unknown as webcrypto.Crypto;

export async function createAnchor(cfg: AnchorConfig): Promise<CaMaterial> {
  const crypto = cfg.crypto ?? defaultCrypto();
  const alg = ALG[cfg.curve ?? 'P-256'];
  const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = cfg.notBefore ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: randomSerialHex(crypto),
      name: [{ CN: [cfg.commonName] }],
      notBefore,
      notAfter: new Date(notBefore.getTime() + lifetimeMs(cfg, 3650)),
      keys: keys,
      signingAlgorithm: alg,
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(crypto, keys.privateKey) };
}

/** An intermediate CA (path length 0) signed by `caCertPem`/`caKeyPem`. */
export async function createIssuer(cfg: IssuerConfig): Promise<CaMaterial> {
  const crypto = cfg.crypto ?? defaultCrypto();
  const alg = ALG[cfg.curve ?? 'P-256'];
  const parent = new X509Certificate(cfg.caCertPem);
  if (!parent.ca) throw new Error('--ca-cert is not a CA certificate');
  const parentKey = createPrivateKey(cfg.caKeyPem);
  if (!parent.checkPrivateKey(parentKey)) throw new Error('--ca-key does not match --ca-cert');
  const parentNotAfter = Date.parse(parent.validTo);
  const notBefore = cfg.notBefore ?? new Date(Math.floor(Date.now() / 1000) * 1000);
  if (parentNotAfter <= notBefore.getTime()) throw new Error(`--ca-cert expired at ${parent.validTo}`);
  const notAfter = new Date(Math.min(notBefore.getTime() + lifetimeMs(cfg, 365), parentNotAfter));

  const signingKey = await importSigningKey(crypto, parentKey);
  const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const parentX = new x509.X509Certificate(parent.raw);
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: randomSerialHex(crypto),
      subject: [{ CN: [cfg.commonName] }],
      issuer: parentX.subjectName,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: signingKey,
      signingAlgorithm: signingAlgorithmFor(parentKey),
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
        await x509.AuthorityKeyIdentifierExtension.create(parentX, false, crypto),
      ],
    },
    crypto,
  );
  return { certPem: cert.toString('pem') + '\n', keyPem: await exportKeyPem(crypto, keys.privateKey) };
}

function lifetimeMs(cfg: AnchorConfig, defaultDays: number): number {
  return cfg.validityMs ?? (cfg.validityDays ?? defaultDays) * DAY;
}

function curveOf(key: KeyObject): Curve {
  const c = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'ec' && c === 'prime256v1') return 'P-256';
  if (key.asymmetricKeyType === 'ec' && c === 'secp384r1') return 'P-384';
  throw new Error(`CA key must be ECDSA P-256 or P-384, found ${key.asymmetricKeyType} ${c ?? ''}`.trim());
}

function signingAlgorithmFor(key: KeyObject): EcKeyGenParams & EcdsaParams {
  return ALG[curveOf(key)];
}

async function importSigningKey(crypto: webcrypto.Crypto, key: KeyObject): Promise<webcrypto.CryptoKey> {
  const pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
  return crypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve: curveOf(key) }, false, ['sign']);
}

async function exportKeyPem(crypto: webcrypto.Crypto, key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey('pkcs8', key));
  return x509.PemConverter.encode(der, 'PRIVATE KEY') + '\n';
}

/** 128 random bits as hex, high bit cleared so the DER INTEGER is positive without padding. */
function randomSerialHex(crypto: webcrypto.Crypto): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[0] = (b[0] & 0x7f) | 0x01;
  return Buffer.from(b).toString('hex');
}
