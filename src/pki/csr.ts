/**
 * PKCS#10 certification requests: parsing and verifying what a workload sends, and
 * building the request a proxy sends.
 */
import { KeyObject, sign, verify, webcrypto } from 'node:crypto';
import * as der from './der.js';
import { PkiError } from './errors.js';
import { CURVES, ECDSA_HASHES, OID } from './oids.js';

const { TAG } = der;

/** Subject alternative names by kind; anything but dNSName is a "forbidden" SAN for a workload. */
export interface SubjectAltNames {
  dns: string[];
  uri: string[];
  ip: string[];
  email: string[];
  /** otherName, x400Address, directoryName, ediPartyName, registeredID: counted, not decoded. */
  other: number;
}

export interface ParsedCsr {
  /** The signed CertificationRequestInfo. */
  info: Buffer;
  /** SubjectPublicKeyInfo, copied verbatim into the leaf. */
  spki: Buffer;
  /** The subjectPublicKey BIT STRING's key bytes (the SKI is their SHA-1). */
  publicKey: Buffer;
  keyAlgorithm: string;
  /** Named-curve OID for EC keys, otherwise null. */
  curve: string | null;
  signatureAlgorithm: string;
  signature: Buffer;
  commonNames: string[];
  sans: SubjectAltNames;
}

const malformed = (msg: string) => new PkiError('ERR_CSR_MALFORMED', `certificate_signing_request: ${msg}`);

/** Parses a DER CSR. Throws PkiError ERR_CSR_MALFORMED for anything not well-formed. */
export function parseCsr(buf: Uint8Array): ParsedCsr {
  try {
    return parseCsrUnchecked(buf);
  } catch (e) {
    if (e instanceof der.DerError) throw malformed(`not a DER PKCS#10 request (${e.message})`);
    throw e;
  }
}

function parseCsrUnchecked(buf: Uint8Array): ParsedCsr {
  const outer = der.expectTlv(buf, 0, buf.length, TAG.SEQUENCE, 'CertificationRequest');
  if (outer.end !== buf.length) throw malformed(`${buf.length - outer.end} trailing bytes after the request`);
  const [infoT, algT, sigT, ...extra] = der.children(buf, outer, 'CertificationRequest');
  if (!infoT || !algT || !sigT || extra.length) throw malformed('expected info, algorithm and signature');
  if (infoT.tag !== TAG.SEQUENCE || algT.tag !== TAG.SEQUENCE || sigT.tag !== TAG.BIT_STRING) {
    throw malformed('expected SEQUENCE, SEQUENCE, BIT STRING');
  }
  const [versionT, subjectT, spkiT, attrsT, ...rest] = der.children(buf, infoT, 'CertificationRequestInfo');
  if (!versionT || !subjectT || !spkiT || rest.length) throw malformed('CertificationRequestInfo has the wrong shape');
  if (versionT.tag !== TAG.INTEGER || der.content(buf, versionT).toString('hex') !== '00') throw malformed('version must be 0 (v1)');
  if (subjectT.tag !== TAG.SEQUENCE || spkiT.tag !== TAG.SEQUENCE) throw malformed('subject or subjectPKInfo is not a SEQUENCE');

  const key = parseSpki(buf, spkiT);
  const sigAlg = parseAlgorithm(buf, algT, 'signatureAlgorithm');
  const sigBits = der.content(buf, sigT);
  if (sigBits.length < 2 || sigBits[0] !== 0) throw malformed('signature BIT STRING is empty or has unused bits');

  let sans: SubjectAltNames = { dns: [], uri: [], ip: [], email: [], other: 0 };
  if (attrsT) {
    if (attrsT.tag !== 0xa0) throw malformed('attributes must be [0] IMPLICIT SET');
    for (const attr of der.children(buf, attrsT, 'attributes')) {
      const [typeT, valuesT] = der.children(buf, attr, 'attribute');
      if (!typeT || typeT.tag !== TAG.OID || !valuesT || valuesT.tag !== TAG.SET) throw malformed('bad attribute');
      if (der.decodeOid(der.content(buf, typeT)) !== OID.extensionRequest) continue;
      for (const exts of der.children(buf, valuesT, 'extensionRequest')) {
        const found = findSan(buf, exts);
        if (found) sans = found;
      }
    }
  }
  return {
    info: der.whole(buf, infoT),
    spki: der.whole(buf, spkiT),
    publicKey: key.publicKey,
    keyAlgorithm: key.algorithm,
    curve: key.curve,
    signatureAlgorithm: sigAlg,
    signature: sigBits.subarray(1),
    commonNames: commonNames(buf, subjectT),
    sans,
  };
}

function parseAlgorithm(buf: Uint8Array, t: der.Tlv, where: string): string {
  const [oidT] = der.children(buf, t, where);
  if (!oidT || oidT.tag !== TAG.OID) throw malformed(`${where} has no algorithm OID`);
  return der.decodeOid(der.content(buf, oidT), where);
}

function parseSpki(buf: Uint8Array, spkiT: der.Tlv): { algorithm: string; curve: string | null; publicKey: Buffer } {
  const [algT, keyT] = der.children(buf, spkiT, 'subjectPKInfo');
  if (!algT || algT.tag !== TAG.SEQUENCE || !keyT || keyT.tag !== TAG.BIT_STRING) throw malformed('bad subjectPKInfo');
  const [oidT, paramT] = der.children(buf, algT, 'subjectPKInfo.algorithm');
  if (!oidT || oidT.tag !== TAG.OID) throw malformed('subjectPKInfo has no algorithm OID');
  const algorithm = der.decodeOid(der.content(buf, oidT));
  const curve = algorithm === OID.ecPublicKey && paramT?.tag === TAG.OID ? der.decodeOid(der.content(buf, paramT)) : null;
  const bits = der.content(buf, keyT);
  if (bits.length < 2 || bits[0] !== 0) throw malformed('subjectPublicKey BIT STRING is empty or has unused bits');
  return { algorithm, curve, publicKey: bits.subarray(1) };
}

function commonNames(buf: Uint8Array, subjectT: der.Tlv): string[] {
  const out: string[] = [];
  for (const rdn of der.children(buf, subjectT, 'subject')) {
    for (const atv of der.children(buf, rdn, 'subject RDN')) {
      const [typeT, valueT] = der.children(buf, atv, 'subject attribute');
      if (!typeT || typeT.tag !== TAG.OID || !valueT) throw malformed('bad subject attribute');
      if (der.decodeOid(der.content(buf, typeT)) === OID.commonName) out.push(der.content(buf, valueT).toString('utf8'));
    }
  }
  return out;
}

function findSan(buf: Uint8Array, extsT: der.Tlv): SubjectAltNames | null {
  if (extsT.tag !== TAG.SEQUENCE) throw malformed('extensionRequest is not a SEQUENCE of extensions');
  let found: SubjectAltNames | null = null;
  for (const ext of der.children(buf, extsT, 'extension')) {
    const parts = der.children(buf, ext, 'extension');
    const idT = parts[0];
    const valueT = parts[parts.length - 1];
    if (!idT || idT.tag !== TAG.OID || parts.length < 2 || valueT.tag !== TAG.OCTET_STRING) throw malformed('bad extension');
    if (der.decodeOid(der.content(buf, idT)) !== OID.subjectAltName) continue;
    if (found) throw malformed('more than one subjectAltName extension');
    found = decodeGeneralNames(buf, valueT.contentStart, valueT.end);
  }
  return found;
}

/** Decodes GeneralNames (RFC 5280 4.2.1.6) found in [start, end). */
export function decodeGeneralNames(buf: Uint8Array, start: number, end: number): SubjectAltNames {
  const seqT = der.expectTlv(buf, start, end, TAG.SEQUENCE, 'subjectAltName');
  const sans: SubjectAltNames = { dns: [], uri: [], ip: [], email: [], other: 0 };
  for (const gn of der.children(buf, seqT, 'GeneralName')) {
    const value = der.content(buf, gn);
    switch (gn.tag) {
      case 0x82:
        sans.dns.push(value.toString('latin1'));
        break;
      case 0x86:
        sans.uri.push(value.toString('latin1'));
        break;
      case 0x81:
        sans.email.push(value.toString('latin1'));
        break;
      case 0x87:
        sans.ip.push(formatIp(value));
        break;
      default:
        sans.other++;
    }
  }
  return sans;
}

function formatIp(b: Buffer): string {
  if (b.length === 4) return Array.from(b).join('.');
  if (b.length === 16) return (b.toString('hex').match(/.{4}/g) ?? []).join(':');
  return `<${b.length}-byte address>`;
}

/**
 * A fast path for the CSR self-signature check, e.g. the native addon's `ecdsaVerify`
 * (src/cli passes it in; src/pki stays pure). `point` is the SEC1 public point from the
 * CSR; `signature` is DER. True only for a valid signature by a valid point on `curve`;
 * false for anything else. It must not throw for bad input: a throw is treated as a bug.
 */
export type CsrSignatureVerifier = (
  curve: 'P-256' | 'P-384',
  point: Buffer,
  hash: 'sha256' | 'sha384' | 'sha512',
  data: Buffer,
  signature: Buffer,
) => boolean;

/**
 * Checks the CSR's key type and self-signature. Allowed keys: ECDSA P-256 and P-384 with a
 * named curve; anything else (RSA, Ed25519, other curves, explicit parameters) is refused.
 *
 * Without `verifier`, the key is imported as a raw point through WebCrypto rather than
 * parsed from the SPKI DER: OpenSSL 3's generic decoder costs ~150 µs per key, the raw
 * import ~60 µs, and the import still rejects a point that is not on the curve. The
 * signature check then runs synchronously: handing it to libuv's thread pool costs more CPU
 * per request than it saves (measured by `npm run bench:identity`).
 *
 * With `verifier` (~80 µs in all), an accepted CSR costs nothing more. A refused one is
 * re-examined with the WebCrypto import, so both paths answer with the same error code:
 * ERR_CSR_MALFORMED for a point that is not on the curve, ERR_CSR_SIGNATURE otherwise.
 */
export async function verifyCsr(csr: ParsedCsr, verifier?: CsrSignatureVerifier): Promise<void> {
  const curve = csr.keyAlgorithm === OID.ecPublicKey && csr.curve ? CURVES[csr.curve] : undefined;
  if (!curve) {
    throw new PkiError('ERR_CSR_KEY_TYPE', `certificate_signing_request: key must be ECDSA P-256 or P-384, found ${describeKey(csr)}`);
  }
  const hash = ECDSA_HASHES[csr.signatureAlgorithm];
  if (!hash) {
    throw new PkiError('ERR_CSR_SIGNATURE', `certificate_signing_request: signature algorithm ${csr.signatureAlgorithm} is not ECDSA with SHA-2`);
  }
  if (verifier) {
    if (verifier(curve.name, csr.publicKey, hash, csr.info, csr.signature)) return;
    await importPoint(csr.publicKey, curve.name); // throws ERR_CSR_MALFORMED for a bad point
    throw badSignature();
  }
  const key = await importPoint(csr.publicKey, curve.name);
  let ok = false;
  try {
    ok = verify(hash, csr.info, { key, dsaEncoding: 'der' }, csr.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw badSignature();
}

async function importPoint(point: Buffer, curve: 'P-256' | 'P-384'): Promise<KeyObject> {
  try {
    const imported = await webcrypto.subtle.importKey('raw', point, { name: 'ECDSA', namedCurve: curve }, false, ['verify']);
    return KeyObject.from(imported);
  } catch {
    throw new PkiError('ERR_CSR_MALFORMED', `certificate_signing_request: public key is not a valid ${curve} point`);
  }
}

const badSignature = () => new PkiError('ERR_CSR_SIGNATURE', 'certificate_signing_request: self-signature does not verify');

function describeKey(csr: ParsedCsr): string {
  if (csr.keyAlgorithm === OID.rsaEncryption) return 'RSA';
  if (csr.keyAlgorithm === OID.ed25519) return 'Ed25519';
  if (csr.keyAlgorithm === OID.ecPublicKey) return csr.curve ? `EC curve ${csr.curve}` : 'EC with explicit parameters';
  return `algorithm ${csr.keyAlgorithm}`;
}

/**
 * Checks that a CSR asks for exactly `identity`: one DNS SAN equal to it, no other SAN
 * kinds, and a Common Name that is absent or the identity itself.
 */
export function checkCsrNames(csr: ParsedCsr, identity: string): void {
  const { dns, uri, ip, email, other } = csr.sans;
  if (ip.length || uri.length || email.length || other) {
    const kinds = [ip.length && 'IP', uri.length && 'URI', email.length && 'email', other && 'other'].filter(Boolean);
    throw new PkiError('ERR_CSR_FORBIDDEN_SAN', `certificate_signing_request: SANs must be DNS only, found ${kinds.join(', ')}`);
  }
  if (dns.length !== 1 || dns[0] !== identity) {
    throw new PkiError(
      'ERR_CSR_SAN_MISMATCH',
      `certificate_signing_request: DNS SANs must be exactly [${identity}], found [${dns.join(', ')}]`,
    );
  }
  for (const cn of csr.commonNames) {
    if (cn !== identity) {
      throw new PkiError('ERR_CSR_COMMON_NAME', `certificate_signing_request: Common Name must be empty or ${identity}, found ${cn}`);
    }
  }
}

/** Builds a DER CSR for `identity` (its only SAN, empty subject), signed by `privateKey`. */
export function buildCsr(identity: string, privateKey: KeyObject, publicKey: KeyObject): Buffer {
  const curve = privateKey.asymmetricKeyDetails?.namedCurve;
  const hash = curve === 'secp384r1' ? 'sha384' : 'sha256';
  const sigOid = hash === 'sha384' ? OID.ecdsaWithSha384 : OID.ecdsaWithSha256;
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const san = der.seq(der.encodeOid(OID.subjectAltName), der.octetString(der.seq(der.tlv(0x82, Buffer.from(identity, 'ascii')))));
  const attr = der.seq(der.encodeOid(OID.extensionRequest), der.set(der.seq(san)));
  const info = der.seq(der.smallInteger(0), der.seq(), spki, der.tlv(0xa0, attr));
  const signature = sign(hash, info, { key: privateKey, dsaEncoding: 'der' });
  return der.seq(info, der.seq(der.encodeOid(sigOid)), der.bitString(signature));
}
