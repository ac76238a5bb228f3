/**
 * PKCS#10 certification requests: parsing and verifying what a workload sends, and
 * building the request a proxy sends.
 */
import { KeyObject, sign, verify, webcrypto } from 'node:crypto';
import * as der from './der.js';
import { readCommonNames, readRequestedSans } from './csr-attributes.js';
import { readSpki, type EcPublicKey } from './ec-key.js';
import { PkiError } from './errors.js';
import type { SubjectAltNames } from './general-names.js';
import { ECDSA_HASHES, OID } from './oids.js';
import { quote, quoteList } from './quote.js';

const { TAG } = der;

export type { SubjectAltNames } from './general-names.js';
export { decodeGeneralNames } from './general-names.js';

export interface ParsedCsr {
  /** The signed CertificationRequestInfo. */
  info: Buffer;
  keyAlgorithm: string;
  /** Named-curve OID for EC keys, otherwise null. */
  curve: string | null;
  /**
   * The workload key, parsed and validated (on its curve, uncompressed), when it is ECDSA
   * P-256/P-384 with a named curve; null for any other key type (verifyCsr refuses those).
   * The leaf is built from this, never from the request's SubjectPublicKeyInfo bytes.
   */
  key: EcPublicKey | null;
  signatureAlgorithm: string;
  signature: Buffer;
  commonNames: string[];
  sans: SubjectAltNames;
}

const malformed = (msg: string) => new PkiError('ERR_CSR_MALFORMED', `certificate_signing_request: ${msg}`);

/**
 * Parses a DER CSR exactly: every SEQUENCE has exactly the elements RFC 2986 gives it, every
 * length is minimal DER (der.readTlv), and nothing follows the request. Throws PkiError
 * ERR_CSR_MALFORMED for anything else (ERR_CSR_COMMON_NAME for a CN in an odd string type).
 */
export function parseCsr(buf: Uint8Array): ParsedCsr {
  try {
    return parseCsrUnchecked(buf);
  } catch (e) {
    if (e instanceof der.DerError) throw malformed(`not a DER PKCS#10 request (${e.message})`);
    throw e;
  }
}

const tagsAre = (ts: der.Tlv[], tags: number[]) => ts.length === tags.length && ts.every((t, i) => t.tag === tags[i]);

function parseCsrUnchecked(buf: Uint8Array): ParsedCsr {
  const outer = der.expectTlv(buf, 0, buf.length, TAG.SEQUENCE, 'CertificationRequest');
  if (outer.end !== buf.length) throw malformed(`${buf.length - outer.end} trailing bytes after the request`);
  // Every constructed value, including those no field below reads, must be DER.
  der.walk(buf, outer.contentStart, outer.end, 'CertificationRequest');
  const top = der.children(buf, outer, 'CertificationRequest');
  if (!tagsAre(top, [TAG.SEQUENCE, TAG.SEQUENCE, TAG.BIT_STRING])) {
    throw malformed('expected exactly SEQUENCE { info SEQUENCE, algorithm SEQUENCE, signature BIT STRING }');
  }
  const [infoT, algT, sigT] = top;
  const info = der.children(buf, infoT, 'CertificationRequestInfo');
  if (!tagsAre(info, [TAG.INTEGER, TAG.SEQUENCE, TAG.SEQUENCE, 0xa0])) {
    throw malformed('CertificationRequestInfo must be exactly SEQUENCE { version, subject, subjectPKInfo, [0] attributes }');
  }
  const [versionT, subjectT, spkiT, attrsT] = info;
  if (der.content(buf, versionT).toString('hex') !== '00') throw malformed('version must be 0 (v1)');

  const spki = readSpki(buf, spkiT, malformed);
  const signatureAlgorithm = readSignatureAlgorithm(buf, algT);
  const sigBits = der.content(buf, sigT);
  if (sigBits.length < 2 || sigBits[0] !== 0) throw malformed('signature BIT STRING is empty or has unused bits');
  return {
    info: der.whole(buf, infoT),
    keyAlgorithm: spki.algorithm,
    curve: spki.curveOid,
    key: spki.key,
    signatureAlgorithm,
    signature: sigBits.subarray(1),
    commonNames: readCommonNames(buf, subjectT),
    sans: readRequestedSans(buf, attrsT),
  };
}

/** AlgorithmIdentifier; for ECDSA the parameters must be absent (RFC 5758 3.2). */
function readSignatureAlgorithm(buf: Uint8Array, t: der.Tlv): string {
  const parts = der.children(buf, t, 'signatureAlgorithm');
  if (parts.length < 1 || parts.length > 2 || parts[0].tag !== TAG.OID) throw malformed('signatureAlgorithm must be exactly SEQUENCE { OID, [parameters] }');
  const oid = der.decodeOid(der.content(buf, parts[0]), 'signatureAlgorithm');
  if (ECDSA_HASHES[oid] && parts.length !== 1) throw malformed(`signatureAlgorithm ${oid} must have no parameters (RFC 5758)`);
  return oid;
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
 * Checks the CSR's key type and self-signature and returns the verified key. Allowed keys:
 * ECDSA P-256 and P-384 with a named curve; anything else (RSA, Ed25519, other curves,
 * explicit parameters) is refused. The point was already checked on its curve by parseCsr.
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
export async function verifyCsr(csr: ParsedCsr, verifier?: CsrSignatureVerifier): Promise<EcPublicKey> {
  const key = csr.key;
  if (!key) {
    throw new PkiError('ERR_CSR_KEY_TYPE', `certificate_signing_request: key must be ECDSA P-256 or P-384, found ${describeKey(csr)}`);
  }
  const hash = ECDSA_HASHES[csr.signatureAlgorithm];
  if (!hash) {
    throw new PkiError('ERR_CSR_SIGNATURE', `certificate_signing_request: signature algorithm ${csr.signatureAlgorithm} is not ECDSA with SHA-2`);
  }
  if (!isDerEcdsaSignature(csr.signature)) throw badSignature(' (not a DER ECDSA-Sig-Value)');
  if (verifier) {
    if (verifier(key.curve, key.point, hash, csr.info, csr.signature)) return key;
    await importPoint(key.point, key.curve); // throws ERR_CSR_MALFORMED for a bad point
    throw badSignature();
  }
  const imported = await importPoint(key.point, key.curve);
  let ok = false;
  try {
    ok = verify(hash, csr.info, { key: imported, dsaEncoding: 'der' }, csr.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw badSignature();
  return key;
}

/** ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }, both positive and minimal, nothing after. */
function isDerEcdsaSignature(sig: Buffer): boolean {
  try {
    const seqT = der.single(sig, 0, sig.length, TAG.SEQUENCE, 'ECDSA-Sig-Value');
    const ints = der.children(sig, seqT, 'ECDSA-Sig-Value');
    return ints.length === 2 && ints.every((t) => t.tag === TAG.INTEGER && isMinimalPositive(der.content(sig, t)));
  } catch {
    return false;
  }
}

const isMinimalPositive = (b: Buffer) => b.length > 0 && (b[0] & 0x80) === 0 && !(b[0] === 0 && (b.length === 1 || (b[1] & 0x80) === 0));

async function importPoint(point: Buffer, curve: 'P-256' | 'P-384'): Promise<KeyObject> {
  try {
    const imported = await webcrypto.subtle.importKey('raw', point, { name: 'ECDSA', namedCurve: curve }, false, ['verify']);
    return KeyObject.from(imported);
  } catch {
    throw new PkiError('ERR_CSR_MALFORMED', `certificate_signing_request: public key is not a valid ${curve} point`);
  }
}

const badSignature = (why = '') => new PkiError('ERR_CSR_SIGNATURE', `certificate_signing_request: self-signature does not verify${why}`);

function describeKey(csr: ParsedCsr): string {
  if (csr.keyAlgorithm === OID.rsaEncryption) return 'RSA';
  if (csr.keyAlgorithm === OID.ed25519) return 'Ed25519';
  if (csr.keyAlgorithm === OID.ecPublicKey) return csr.curve ? `EC curve ${csr.curve}` : 'EC with explicit parameters or none';
  return `algorithm ${csr.keyAlgorithm}`;
}

/**
 * Checks that a CSR asks for exactly `identity`: one DNS SAN equal to it, no other SAN
 * kinds, and a Common Name that is absent or the identity itself. Names from the request
 * are cut in messages (quote): a 50,000-character CN must not come back whole.
 */
export function checkCsrNames(csr: ParsedCsr, identity: string): void {
  const { dns, uri, ip, email, other } = csr.sans;
  if (ip.length || uri.length || email.length || other) {
    const kinds = [ip.length && 'IP', uri.length && 'URI', email.length && 'email', other && 'other'].filter(Boolean);
    throw new PkiError('ERR_CSR_FORBIDDEN_SAN', `certificate_signing_request: SANs must be DNS only, found ${kinds.join(', ')}`);
  }
  if (dns.length !== 1 || dns[0] !== identity) {
    throw new PkiError('ERR_CSR_SAN_MISMATCH', `certificate_signing_request: DNS SANs must be exactly [${identity}], found ${quoteList(dns)}`);
  }
  for (const cn of csr.commonNames) {
    if (cn !== identity) {
      throw new PkiError('ERR_CSR_COMMON_NAME', `certificate_signing_request: Common Name must be empty or ${identity}, found ${quote(cn)}`);
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
