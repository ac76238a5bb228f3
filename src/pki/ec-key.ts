/**
 * Workload public keys: ECDSA P-256 and P-384 points, read from a SubjectPublicKeyInfo,
 * checked on their curve, and encoded again for the leaf from the curve and the point
 * alone. The leaf never carries SPKI bytes a caller sent: a structure "checked for its
 * first elements" and copied verbatim once let 50 KB of attacker bytes into certificates our
 * issuer signed, which openssl and Node could not even parse.
 *
 * Point encodings (SEC1 2.3.3, RFC 5480 2.2): uncompressed (0x04) is accepted; compressed
 * (0x02/0x03) is accepted and decompressed, so a leaf always carries the uncompressed form
 * (every TLS stack reads it, and one encoding per key keeps key comparison trivial); hybrid
 * (0x06/0x07) is refused, as RFC 5480 requires; the point at infinity is refused.
 */
import { ECDH, type KeyObject } from 'node:crypto';
import * as der from './der.js';
import { PkiError } from './errors.js';
import { CURVES, OID } from './oids.js';

const { TAG } = der;

export type CurveName = 'P-256' | 'P-384';

export interface EcPublicKey {
  curve: CurveName;
  /** SEC1 uncompressed point `04 || X || Y`, on the curve. */
  point: Buffer;
}

interface CurveParams {
  oid: string;
  /** Field element size in bytes. */
  size: number;
  p: bigint;
  b: bigint;
  openssl: string;
}

// Short Weierstrass curves y² = x³ − 3x + b over GF(p) (FIPS 186-4 D.1.2.3 and D.1.2.4).
// Both have cofactor 1, so a point on the curve is in the prime-order group.
const PARAMS: Record<CurveName, CurveParams> = {
  'P-256': {
    oid: OID.prime256v1,
    size: 32,
    p: 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    openssl: 'prime256v1',
  },
  'P-384': {
    oid: OID.secp384r1,
    size: 48,
    p: 2n ** 384n - 2n ** 128n - 2n ** 96n + 2n ** 32n - 1n,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    openssl: 'secp384r1',
  },
};

const ALGORITHM_IDS: Record<CurveName, Buffer> = {
  'P-256': der.seq(der.encodeOid(OID.ecPublicKey), der.encodeOid(OID.prime256v1)),
  'P-384': der.seq(der.encodeOid(OID.ecPublicKey), der.encodeOid(OID.secp384r1)),
};

type Fail = (message: string) => PkiError;

const toBig = (b: Uint8Array): bigint => (b.length ? BigInt('0x' + Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex')) : 0n);
const mod = (a: bigint, p: bigint): bigint => ((a % p) + p) % p;

function onCurve(c: CurveParams, x: bigint, y: bigint): boolean {
  if (x >= c.p || y >= c.p) return false;
  return mod(y * y - (x * x * x - 3n * x + c.b), c.p) === 0n;
}

/**
 * Decodes a SEC1 point for `curve` and returns it uncompressed, or throws `fail(...)`.
 * The on-curve check is plain arithmetic (3 µs for P-256), so it runs on every request
 * before any signature check, whichever verifier is used.
 */
export function decodeEcPoint(curve: CurveName, bytes: Uint8Array, fail: Fail): Buffer {
  const c = PARAMS[curve];
  const invalid = () => fail(`public key is not a valid ${curve} point`);
  const prefix = bytes[0];
  if (bytes.length === 0) throw fail('public key is empty');
  if (prefix === 0x06 || prefix === 0x07) throw fail(`public key uses the hybrid point encoding (0x0${prefix}), which RFC 5480 forbids`);
  if (prefix === 0x00) throw fail('public key is the point at infinity');
  if (prefix === 0x04) {
    if (bytes.length !== 1 + 2 * c.size) throw invalid();
    if (!onCurve(c, toBig(bytes.subarray(1, 1 + c.size)), toBig(bytes.subarray(1 + c.size)))) throw invalid();
    return Buffer.from(bytes);
  }
  if (prefix === 0x02 || prefix === 0x03) {
    if (bytes.length !== 1 + c.size || toBig(bytes.subarray(1)) >= c.p) throw invalid();
    let point: Buffer;
    try {
      point = ECDH.convertKey(Buffer.from(bytes), c.openssl, undefined, undefined, 'uncompressed') as Buffer;
    } catch {
      throw invalid();
    }
    // OpenSSL did the square root; check its answer rather than trust it.
    const y = toBig(point.subarray(1 + c.size));
    if (point.length !== 1 + 2 * c.size || Number(y & 1n) !== (prefix & 1) || !onCurve(c, toBig(point.subarray(1, 1 + c.size)), y)) throw invalid();
    return point;
  }
  throw fail(`public key has an unknown point encoding (0x${prefix.toString(16).padStart(2, '0')})`);
}

/** What a SubjectPublicKeyInfo holds: always the algorithm; the key only when we certify its type. */
export interface SpkiContents {
  algorithm: string;
  /** Named-curve OID for EC keys; null for other algorithms or EC keys without a named curve. */
  curveOid: string | null;
  /** Set only for ECDSA P-256/P-384 named-curve keys, which are then fully validated. */
  key: EcPublicKey | null;
}

/**
 * Reads a SubjectPublicKeyInfo exactly: SEQUENCE { SEQUENCE { OID, [one parameter] },
 * BIT STRING with 0 unused bits }, nothing more. For an EC key on a curve we certify, the
 * parameters must be exactly the named-curve OID and the point must be valid. Other key
 * types are described (so the caller can refuse them by type) but not decoded further.
 */
export function readSpki(buf: Uint8Array, spkiT: der.Tlv, fail: Fail): SpkiContents {
  const parts = der.children(buf, spkiT, 'subjectPublicKeyInfo');
  if (parts.length !== 2 || parts[0].tag !== TAG.SEQUENCE || parts[1].tag !== TAG.BIT_STRING) {
    throw fail('subjectPublicKeyInfo must be exactly SEQUENCE { AlgorithmIdentifier, BIT STRING }');
  }
  const [algT, keyT] = parts;
  const alg = der.children(buf, algT, 'subjectPublicKeyInfo.algorithm');
  if (alg.length < 1 || alg.length > 2 || alg[0].tag !== TAG.OID) {
    throw fail('subjectPublicKeyInfo.algorithm must be exactly SEQUENCE { OID, parameters }');
  }
  const bits = der.content(buf, keyT);
  if (bits.length < 2 || bits[0] !== 0) throw fail('subjectPublicKey BIT STRING is empty or has unused bits');
  const algorithm = der.decodeOid(der.content(buf, alg[0]), 'subjectPublicKeyInfo.algorithm');
  if (algorithm !== OID.ecPublicKey) return { algorithm, curveOid: null, key: null };
  const param = alg[1];
  if (!param || param.tag !== TAG.OID) return { algorithm, curveOid: null, key: null };
  const curveOid = der.decodeOid(der.content(buf, param), 'namedCurve');
  const profile = CURVES[curveOid];
  if (!profile) return { algorithm, curveOid, key: null };
  return { algorithm, curveOid, key: { curve: profile.name, point: decodeEcPoint(profile.name, bits.subarray(1), fail) } };
}

/** The DER SubjectPublicKeyInfo of `key`, built from its curve and point. */
export function encodeEcSpki(key: EcPublicKey): Buffer {
  return der.seq(ALGORITHM_IDS[key.curve], der.bitString(key.point));
}

/**
 * Checks an EcPublicKey someone built (the signer's last guard): known curve, uncompressed,
 * on the curve. Throws PkiError ERR_CSR_MALFORMED.
 */
export function assertEcPublicKey(key: EcPublicKey): void {
  const fail: Fail = (m) => new PkiError('ERR_CSR_MALFORMED', `leaf key: ${m}`);
  if (!PARAMS[key.curve]) throw fail(`unsupported curve ${String(key.curve).slice(0, 20)}`);
  if (key.point[0] !== 0x04) throw fail('the point must be uncompressed');
  decodeEcPoint(key.curve, key.point, fail);
}

/** Parses a whole DER SubjectPublicKeyInfo (e.g. a key this process generated). */
export function parseEcSpki(spki: Uint8Array): EcPublicKey {
  const fail: Fail = (m) => new PkiError('ERR_CSR_MALFORMED', `public key: ${m}`);
  let contents: SpkiContents;
  try {
    const t = der.expectTlv(spki, 0, spki.length, TAG.SEQUENCE, 'subjectPublicKeyInfo');
    if (t.end !== spki.length) throw fail('trailing bytes after the SubjectPublicKeyInfo');
    contents = readSpki(spki, t, fail);
  } catch (e) {
    if (e instanceof der.DerError) throw fail(e.message);
    throw e;
  }
  if (!contents.key) throw new PkiError('ERR_CSR_KEY_TYPE', 'public key: must be ECDSA P-256 or P-384 with a named curve');
  return contents.key;
}

/** The EcPublicKey of a node:crypto key (P-256 or P-384). */
export function ecPublicKeyOf(key: KeyObject): EcPublicKey {
  return parseEcSpki(key.export({ format: 'der', type: 'spki' }));
}
