/**
 * Whether files read from an issuer directory make an issuer the identity service may sign
 * with. Pure: data in, an Issuer or an IssuerError out, so a table test covers every
 * refusal. The store holding the current issuer (issuer-store.ts) calls this on each new set
 * of files and keeps the previous issuer when it throws.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { certificatesFromPem } from '../pki/pem.js';
import { LeafSigner } from '../pki/leaf-signer.js';
import { TrustBundle, describe } from '../pki/trust-bundle.js';

export interface Issuer {
  certificate: X509Certificate;
  signer: LeafSigner;
  /** DER chain returned to clients: the issuer and any intermediates, anchor excluded. */
  chain: Buffer[];
  bundle: TrustBundle;
  notBefore: Date;
  notAfter: Date;
  /** SHA-256 fingerprint of the issuer certificate. */
  fingerprint: string;
}

/** The three texts an issuer is made of, as read (issuer-files.ts). */
export type IssuerMaterial = {
  /** The issuer certificate first, then any intermediates. */
  certPem: string;
  keyPem: string;
  bundlePem: string;
};

export type IssuerErrorCode =
  /** The issuer directory or the trust bundle could not be read. */
  | 'ERR_ISSUER_FILES'
  /** The trust bundle holds no certificate, or one that is not a CA. */
  | 'ERR_ISSUER_BUNDLE'
  /** The certificate file holds no PEM certificate. */
  | 'ERR_ISSUER_CERT'
  /** The key file does not parse as a private key. */
  | 'ERR_ISSUER_KEY'
  | 'ERR_ISSUER_KEY_MISMATCH'
  | 'ERR_ISSUER_NOT_CA'
  | 'ERR_ISSUER_EXPIRED'
  | 'ERR_ISSUER_NOT_YET_VALID'
  /** The chain does not reach an anchor: a bad signature, a non-CA link, an expired intermediate or anchor, a path length exceeded. */
  | 'ERR_ISSUER_CHAIN';

/** Which part of the material a refusal is about: the issuer's own files, or the trust bundle. */
export type IssuerPart = 'issuer' | 'bundle';

export class IssuerError extends Error {
  constructor(
    readonly code: IssuerErrorCode,
    message: string,
    /** ERR_ISSUER_BUNDLE is always about the bundle; ERR_ISSUER_FILES says which file failed. */
    readonly part: IssuerPart = code === 'ERR_ISSUER_BUNDLE' ? 'bundle' : 'issuer',
  ) {
    super(message);
    this.name = 'IssuerError';
  }
}

/**
 * Builds the issuer from `m`, valid at `now`.
 * @throws IssuerError naming what is wrong with which certificate
 */
export function checkIssuer(m: IssuerMaterial, now: Date): Issuer {
  const bundle = refuse('ERR_ISSUER_BUNDLE', () => TrustBundle.fromPem(m.bundlePem, 'trust bundle'));
  const certs = refuse('ERR_ISSUER_CERT', () => certificatesFromPem(m.certPem, 'issuer certificate').map((d) => new X509Certificate(d)));
  const certificate = certs[0];
  const key: KeyObject = refuse('ERR_ISSUER_KEY', () => createPrivateKey(m.keyPem), (msg) => `issuer key: cannot parse (${msg})`);
  if (!certificate.ca) throw new IssuerError('ERR_ISSUER_NOT_CA', `issuer ${describe(certificate)} is not a CA certificate`);
  if (!certificate.checkPrivateKey(key)) throw new IssuerError('ERR_ISSUER_KEY_MISMATCH', `issuer key does not match the certificate ${describe(certificate)}`);
  if (Date.parse(certificate.validTo) < now.getTime()) throw new IssuerError('ERR_ISSUER_EXPIRED', `issuer ${describe(certificate)} expired at ${certificate.validTo}`);
  if (Date.parse(certificate.validFrom) > now.getTime()) throw new IssuerError('ERR_ISSUER_NOT_YET_VALID', `issuer ${describe(certificate)} is not valid before ${certificate.validFrom}`);
  // Signatures, CA flags, validity of every link and the anchors' path lengths (RFC 5280 6.1.4).
  const { path } = refuse('ERR_ISSUER_CHAIN', () => bundle.verify(certs, now));
  const signer = new LeafSigner(certificate.raw, key);
  return {
    certificate,
    signer,
    chain: path.map((c) => c.raw),
    bundle,
    notBefore: signer.issuer.notBefore,
    notAfter: signer.issuer.notAfter,
    fingerprint: certificate.fingerprint256,
  };
}

function refuse<T>(code: IssuerErrorCode, f: () => T, message: (m: string) => string = (m) => m): T {
  try {
    return f();
  } catch (e) {
    throw new IssuerError(code, message((e as Error).message));
  }
}
