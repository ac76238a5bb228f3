/**
 * The certificate facts an operator asks about that Node's X509Certificate does not expose
 * (key usage bits, path length, key identifiers, signature algorithm), read with
 * @peculiar/x509, plus small helpers to name certificates and keys in messages.
 *
 * Every extension is read on its own and a failure leaves that one field null: `inspect`
 * is most needed on certificates that are odd, so it must not give up on the first oddity.
 */
import 'reflect-metadata';
import { createHash, type KeyObject, type X509Certificate } from 'node:crypto';
import * as x509 from '@peculiar/x509';

export interface CertFacts {
  /** Key usage bit names (RFC 5280 spelling), or null when the extension is absent. */
  keyUsage: string[] | null;
  /** Extended key usage names (`serverAuth`, ...) or dotted OIDs, or null when absent. */
  extendedKeyUsage: string[] | null;
  /** basicConstraints pathLenConstraint; null when absent (unlimited) or not a CA. */
  pathLength: number | null;
  /** Colon-separated upper-case hex, or null when the extension is absent. */
  subjectKeyId: string | null;
  authorityKeyId: string | null;
  /** e.g. `ECDSA with SHA-256`. */
  signatureAlgorithm: string;
}

const KEY_USAGE_NAMES: [x509.KeyUsageFlags, string][] = [
  [x509.KeyUsageFlags.digitalSignature, 'digitalSignature'],
  [x509.KeyUsageFlags.nonRepudiation, 'nonRepudiation'],
  [x509.KeyUsageFlags.keyEncipherment, 'keyEncipherment'],
  [x509.KeyUsageFlags.dataEncipherment, 'dataEncipherment'],
  [x509.KeyUsageFlags.keyAgreement, 'keyAgreement'],
  [x509.KeyUsageFlags.keyCertSign, 'keyCertSign'],
  [x509.KeyUsageFlags.cRLSign, 'cRLSign'],
  [x509.KeyUsageFlags.encipherOnly, 'encipherOnly'],
  [x509.KeyUsageFlags.decipherOnly, 'decipherOnly'],
];

const EKU_NAMES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning',
  '2.5.29.37.0': 'anyExtendedKeyUsage',
};

export function readCertFacts(cert: X509Certificate): CertFacts {
  let pc: x509.X509Certificate | null = null;
  try {
    pc = new x509.X509Certificate(cert.raw);
  } catch {
    pc = null;
  }
  const ext = <T extends x509.Extension>(type: new (raw: ArrayBuffer) => T): T | null => {
    try {
      return pc?.getExtension(type) ?? null;
    } catch {
      return null;
    }
  };
  const ku = ext(x509.KeyUsagesExtension);
  const eku = ext(x509.ExtendedKeyUsageExtension);
  const bc = ext(x509.BasicConstraintsExtension);
  const ski = ext(x509.SubjectKeyIdentifierExtension);
  const aki = ext(x509.AuthorityKeyIdentifierExtension);
  return {
    keyUsage: ku ? KEY_USAGE_NAMES.filter(([flag]) => (ku.usages & flag) !== 0).map(([, n]) => n) : null,
    extendedKeyUsage: eku ? eku.usages.map((u) => EKU_NAMES[String(u)] ?? String(u)) : null,
    pathLength: bc?.ca && bc.pathLength !== undefined ? bc.pathLength : null,
    subjectKeyId: ski ? colonHex(ski.keyId) : null,
    authorityKeyId: aki?.keyId ? colonHex(aki.keyId) : null,
    signatureAlgorithm: pc ? describeSignatureAlgorithm(pc) : 'unknown',
  };
}

function describeSignatureAlgorithm(pc: x509.X509Certificate): string {
  try {
    const alg = pc.signatureAlgorithm as { name: string; hash?: { name: string } };
    return alg.hash ? `${alg.name} with ${alg.hash.name}` : alg.name;
  } catch {
    return 'unknown';
  }
}

/** `AB:CD:...` from hex or bytes. */
export function colonHex(value: string | Uint8Array): string {
  const hex = typeof value === 'string' ? value : Buffer.from(value).toString('hex');
  return (hex.toUpperCase().match(/../g) ?? []).join(':');
}

/** The subject on one line (`CN=a, O=b`), or the SANs for a certificate with an empty subject. */
export function subjectOf(cert: X509Certificate): string {
  if (cert.subject) return cert.subject.split('\n').join(', ');
  return cert.subjectAltName ? `(empty subject; ${cert.subjectAltName})` : '(empty subject)';
}

export function issuerOf(cert: X509Certificate): string {
  return cert.issuer ? cert.issuer.split('\n').join(', ') : '(empty issuer)';
}

export function isSelfSigned(cert: X509Certificate): boolean {
  try {
    return cert.checkIssued(cert) && cert.verify(cert.publicKey);
  } catch {
    return false;
  }
}

/** SHA-256 of the SubjectPublicKeyInfo: the same value for a key and every certificate of it. */
export function publicKeySha256(key: KeyObject): string {
  return colonHex(createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest());
}

export interface KeyDescription {
  /** `EC`, `RSA`, `Ed25519`, ... */
  algorithm: string;
  /** Named curve for EC keys (`P-256`, `P-384`, `P-521`, or OpenSSL's name for others). */
  curve: string | null;
  /** Key size in bits (the curve's field size for EC). */
  bits: number | null;
}

const CURVE_NAMES: Record<string, [string, number]> = {
  prime256v1: ['P-256', 256],
  secp384r1: ['P-384', 384],
  secp521r1: ['P-521', 521],
  secp256k1: ['secp256k1', 256],
};
const KEY_NAMES: Record<string, string> = { ed25519: 'Ed25519', ed448: 'Ed448', x25519: 'X25519', x448: 'X448', dsa: 'DSA', dh: 'DH' };
const FIXED_BITS: Record<string, number> = { ed25519: 256, ed448: 456, x25519: 253, x448: 448 };

export function describeKey(key: KeyObject): KeyDescription {
  const type = key.asymmetricKeyType ?? 'unknown';
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'ec') {
    const named = details.namedCurve ? CURVE_NAMES[details.namedCurve] : undefined;
    return { algorithm: 'EC', curve: named?.[0] ?? details.namedCurve ?? null, bits: named?.[1] ?? null };
  }
  if (type === 'rsa' || type === 'rsa-pss') return { algorithm: type.toUpperCase(), curve: null, bits: details.modulusLength ?? null };
  const name = KEY_NAMES[type] ?? type;
  return { algorithm: name, curve: null, bits: FIXED_BITS[type] ?? details.modulusLength ?? null };
}

/** `EC P-256`, `RSA 2048`, `Ed25519`. */
export function keyLabel(d: KeyDescription): string {
  if (d.curve) return `${d.algorithm} ${d.curve}`;
  if (d.algorithm.startsWith('RSA') && d.bits) return `${d.algorithm} ${d.bits}`;
  return d.algorithm;
}
