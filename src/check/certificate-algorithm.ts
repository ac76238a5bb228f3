/**
 * Whether a CA certificate uses algorithms Lanyard supports, as `linkerd check`'s "trust
 * anchors are using supported crypto algorithm". The issuer must hold an ECDSA P-256 or
 * P-384 key: that is all the leaf signer (src/pki/leaf-signer.ts) signs with. An anchor only
 * has to be verifiable by every proxy, so RSA of 2048 bits or more is accepted there too.
 * Either way the certificate's own signature must not use SHA-1.
 */
import type { X509Certificate } from 'node:crypto';
import * as der from '../pki/der.js';

const SIGNATURES: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'ECDSA with SHA-256',
  '1.2.840.10045.4.3.3': 'ECDSA with SHA-384',
  '1.2.840.10045.4.3.4': 'ECDSA with SHA-512',
  '1.2.840.113549.1.1.11': 'RSA with SHA-256',
  '1.2.840.113549.1.1.12': 'RSA with SHA-384',
  '1.2.840.113549.1.1.13': 'RSA with SHA-512',
  '1.2.840.113549.1.1.10': 'RSA-PSS',
};
const WEAK_SIGNATURES: Record<string, string> = {
  '1.2.840.10045.4.1': 'ECDSA with SHA-1',
  '1.2.840.113549.1.1.5': 'RSA with SHA-1',
  '1.2.840.113549.1.1.4': 'RSA with MD5',
};

/** The OID of the algorithm the certificate is signed with (Certificate.signatureAlgorithm). */
export function signatureAlgorithmOid(cert: X509Certificate): string {
  const buf = cert.raw;
  const outer = der.expectTlv(buf, 0, buf.length, der.TAG.SEQUENCE, 'Certificate');
  const alg = der.children(buf, outer, 'Certificate')[1];
  if (!alg) throw new der.DerError('Certificate', 'no signatureAlgorithm');
  const oid = der.children(buf, alg, 'signatureAlgorithm')[0];
  return der.decodeOid(der.content(buf, oid));
}

export function keyLabel(cert: X509Certificate): string {
  const k = cert.publicKey;
  const d = k.asymmetricKeyDetails ?? {};
  if (k.asymmetricKeyType === 'ec') return `ECDSA ${CURVES[d.namedCurve ?? ''] ?? d.namedCurve ?? 'unknown curve'}`;
  if (k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss') return `RSA ${d.modulusLength ?? '?'}`;
  return k.asymmetricKeyType ?? 'unknown key';
}

const CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/**
 * Why `cert` is not acceptable in `role`, or null when it is.
 * @param role `issuer`: ECDSA P-256/P-384 only; `anchor`: also RSA of at least 2048 bits
 */
export function unsupportedAlgorithm(cert: X509Certificate, role: 'anchor' | 'issuer'): string | null {
  const key = keyLabel(cert);
  const ecOk = key === 'ECDSA P-256' || key === 'ECDSA P-384';
  const rsaBits = /^RSA (\d+)$/.exec(key);
  const rsaOk = role === 'anchor' && rsaBits !== null && Number(rsaBits[1]) >= 2048;
  if (!ecOk && !rsaOk) {
    return role === 'issuer' ? `its key is ${key}; the issuer must be ECDSA P-256 or P-384` : `its key is ${key}; an anchor must be ECDSA P-256/P-384 or RSA of at least 2048 bits`;
  }
  let oid: string;
  try {
    oid = signatureAlgorithmOid(cert);
  } catch (e) {
    return `its signature algorithm cannot be read (${(e as Error).message})`;
  }
  if (WEAK_SIGNATURES[oid]) return `it is signed with ${WEAK_SIGNATURES[oid]}, which is broken; use SHA-256 or better`;
  if (!SIGNATURES[oid]) return `it is signed with an unsupported algorithm (${oid})`;
  return null;
}
