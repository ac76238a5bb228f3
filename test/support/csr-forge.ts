/**
 * Forges PKCS#10 requests that are wrong in exactly one structural way, validly self-signed
 * by a key the test holds (so only the structure decides), plus the catalogue of such
 * requests that the unit table and the end-to-end test both send. The cases are the probes
 * of issue 7: extra elements carrying tens of KB, hybrid points, SANs a reader might see
 * and we would not, non-minimal lengths.
 */
import { ECDH, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import * as der from '../../src/pki/der.js';
import { OID } from '../../src/pki/oids.js';

export type Curve = 'P-256' | 'P-384';

const OPENSSL: Record<Curve, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1' };
const CURVE_OID: Record<Curve, string> = { 'P-256': OID.prime256v1, 'P-384': OID.secp384r1 };

/** A TLV with the length bytes given explicitly (to write non-minimal lengths). */
export const rawTlv = (tag: number, lengthBytes: number[], body: Uint8Array): Buffer => Buffer.concat([Buffer.from([tag, ...lengthBytes]), body]);
export const oid = (dotted: string): Buffer => der.encodeOid(dotted);
export const dnsName = (name: string): Buffer => der.tlv(0x82, Buffer.from(name, 'latin1'));
export const uriName = (uri: string): Buffer => der.tlv(0x86, Buffer.from(uri, 'latin1'));

export interface CsrParts {
  version: Buffer;
  subject: Buffer;
  spki: Buffer;
  /** The `[0]` attributes TLV, or null to leave it out. */
  attributes: Buffer | null;
  /** Elements appended inside CertificationRequestInfo. */
  infoExtra: Buffer[];
  signatureAlgorithm: Buffer;
  /** Rewrites the DER signature before it is wrapped in the BIT STRING. */
  signature: (sig: Buffer) => Buffer;
  /** Elements appended inside the outer SEQUENCE. */
  outerExtra: Buffer[];
}

export class CsrForge {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The uncompressed point. */
  readonly point: Buffer;

  constructor(
    readonly identity: string,
    readonly curve: Curve = 'P-256',
  ) {
    const kp = generateKeyPairSync('ec', { namedCurve: curve });
    this.privateKey = kp.privateKey;
    this.publicKey = kp.publicKey;
    const spki = kp.publicKey.export({ format: 'der', type: 'spki' });
    this.point = spki.subarray(spki.length - (curve === 'P-256' ? 65 : 97));
  }

  get compressedPoint(): Buffer {
    return ECDH.convertKey(this.point, OPENSSL[this.curve], undefined, undefined, 'compressed') as Buffer;
  }

  /** The point with a hybrid prefix (0x06 or 0x07, the parity of y). */
  get hybridPoint(): Buffer {
    const p = Buffer.from(this.point);
    p[0] = 0x06 | (p[p.length - 1] & 1);
    return p;
  }

  algorithmId(...extra: Buffer[]): Buffer {
    return der.seq(oid(OID.ecPublicKey), oid(CURVE_OID[this.curve]), ...extra);
  }

  spki(point: Buffer = this.point, opts: { algorithm?: Buffer; extra?: Buffer[]; unusedBits?: number } = {}): Buffer {
    return der.seq(opts.algorithm ?? this.algorithmId(), der.tlv(der.TAG.BIT_STRING, Uint8Array.of(opts.unusedBits ?? 0), point), ...(opts.extra ?? []));
  }

  /** A subjectAltName extension whose extnValue is `value` (default: GeneralNames of the identity). */
  sanExtension(value: Buffer = der.seq(dnsName(this.identity)), critical?: Buffer): Buffer {
    return der.seq(oid(OID.subjectAltName), ...(critical ? [critical] : []), der.octetString(value));
  }

  extension(oidText: string, value: Buffer, critical?: Buffer): Buffer {
    return der.seq(oid(oidText), ...(critical ? [critical] : []), der.octetString(value));
  }

  /** An extensionRequest attribute holding one value per argument (each a list of extensions). */
  extensionRequest(...values: Buffer[][]): Buffer {
    return der.seq(oid(OID.extensionRequest), der.set(...values.map((exts) => der.seq(...exts))));
  }

  attributes(...attrs: Buffer[]): Buffer {
    return der.tlv(0xa0, ...attrs);
  }

  name(...rdns: Buffer[]): Buffer {
    return der.seq(...rdns);
  }

  /** One RDN holding one attribute. */
  rdn(typeOid: string, value: Buffer): Buffer {
    return der.set(der.seq(oid(typeOid), value));
  }

  defaults(): CsrParts {
    return {
      version: der.smallInteger(0),
      subject: der.seq(),
      spki: this.spki(),
      attributes: this.attributes(this.extensionRequest([this.sanExtension()])),
      infoExtra: [],
      signatureAlgorithm: der.seq(oid(this.curve === 'P-256' ? OID.ecdsaWithSha256 : OID.ecdsaWithSha384)),
      signature: (s) => s,
      outerExtra: [],
    };
  }

  info(parts: Partial<CsrParts> = {}): Buffer {
    const p = { ...this.defaults(), ...parts };
    return der.seq(p.version, p.subject, p.spki, ...(p.attributes ? [p.attributes] : []), ...p.infoExtra);
  }

  /** Signs `info` (raw CertificationRequestInfo bytes) and wraps it as a request. */
  signInfo(info: Buffer, parts: Partial<CsrParts> = {}): Buffer {
    const p = { ...this.defaults(), ...parts };
    const sig = sign(this.curve === 'P-256' ? 'sha256' : 'sha384', info, { key: this.privateKey, dsaEncoding: 'der' });
    return der.seq(info, p.signatureAlgorithm, der.bitString(p.signature(sig)), ...p.outerExtra);
  }

  build(parts: Partial<CsrParts> = {}): Buffer {
    return this.signInfo(this.info(parts), parts);
  }
}

/** Rewrites a DER ECDSA signature with a needless leading zero on r (valid BER, not DER). */
export function nonMinimalR(sig: Buffer): Buffer {
  const seqT = der.readTlv(sig, 0, sig.length, 'sig');
  const [r, s] = der.children(sig, seqT, 'sig');
  const rBody = der.content(sig, r);
  return der.seq(der.tlv(der.TAG.INTEGER, Uint8Array.of(0), rBody), der.whole(sig, s));
}

const BIG = Buffer.alloc(50_000, 0x41);
const TRUE_NOT_DER = Buffer.from([0x01, 0x01, 0x01]);

export interface ForgedCase {
  name: string;
  build: (f: CsrForge) => Buffer;
  code: string;
  message: RegExp;
}

/**
 * Requests that must be refused, with the code and message each must get. Where two SANs
 * compete, the smuggled one comes first: openssl reads the first, the old parser kept the last.
 */
export const REFUSED_CSRS: ForgedCase[] = [
  { name: 'fail/csr-spki-extra-element-50KB', build: (f) => f.build({ spki: f.spki(f.point, { extra: [der.octetString(BIG)] }) }), code: 'ERR_CSR_MALFORMED', message: /subjectPublicKeyInfo must be exactly/ },
  { name: 'fail/csr-spki-algorithm-extra-element-50KB', build: (f) => f.build({ spki: f.spki(f.point, { algorithm: f.algorithmId(der.octetString(BIG)) }) }), code: 'ERR_CSR_MALFORMED', message: /algorithm must be exactly/ },
  { name: 'fail/csr-spki-unused-bits', build: (f) => f.build({ spki: f.spki(f.point, { unusedBits: 1 }) }), code: 'ERR_CSR_MALFORMED', message: /unused bits/ },
  {
    name: 'fail/csr-spki-non-minimal-length',
    build: (f) => {
      const s = f.spki();
      return f.build({ spki: rawTlv(0x30, [0x81, s.length - 2], s.subarray(2)) });
    },
    code: 'ERR_CSR_MALFORMED',
    message: /non-minimal length/,
  },
  { name: 'fail/csr-point-hybrid', build: (f) => f.build({ spki: f.spki(f.hybridPoint) }), code: 'ERR_CSR_MALFORMED', message: /hybrid point encoding \(0x0[67]\).*RFC 5480/ },
  { name: 'fail/csr-point-at-infinity', build: (f) => f.build({ spki: f.spki(Buffer.from([0])) }), code: 'ERR_CSR_MALFORMED', message: /point at infinity/ },
  { name: 'fail/csr-point-extra-byte', build: (f) => f.build({ spki: f.spki(Buffer.concat([f.point, Buffer.from([0])])) }), code: 'ERR_CSR_MALFORMED', message: /not a valid P-256 point/ },
  { name: 'fail/csr-point-unknown-encoding', build: (f) => f.build({ spki: f.spki(Buffer.concat([Buffer.from([0x05]), f.point.subarray(1)])) }), code: 'ERR_CSR_MALFORMED', message: /unknown point encoding \(0x05\)/ },
  {
    name: 'fail/csr-explicit-curve-parameters',
    build: (f) => f.build({ spki: f.spki(f.point, { algorithm: der.seq(oid(OID.ecPublicKey), der.seq(der.smallInteger(1))) }) }),
    code: 'ERR_CSR_KEY_TYPE',
    message: /EC with explicit parameters/,
  },
  {
    name: 'fail/csr-two-extension-request-attributes',
    build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(der.seq(dnsName('evil.example.com')))]), f.extensionRequest([f.sanExtension()])) }),
    code: 'ERR_CSR_MALFORMED',
    message: /more than one extensionRequest attribute/,
  },
  {
    name: 'fail/csr-two-values-in-extension-request',
    build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(der.seq(dnsName('evil.example.com')))], [f.sanExtension()])) }),
    code: 'ERR_CSR_MALFORMED',
    message: /extensionRequest attribute has 2 values; expected one/,
  },
  {
    name: 'fail/csr-duplicate-san-extensions',
    build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(der.seq(dnsName('evil.example.com'))), f.sanExtension()])) }),
    code: 'ERR_CSR_MALFORMED',
    message: /extension 2\.5\.29\.17 appears more than once/,
  },
  {
    name: 'fail/csr-duplicate-other-extension',
    build: (f) => {
      const ku = f.extension(OID.keyUsage, Buffer.from([0x03, 0x02, 0x07, 0x80]));
      return f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(), ku, ku])) });
    },
    code: 'ERR_CSR_MALFORMED',
    message: /extension 2\.5\.29\.15 appears more than once/,
  },
  {
    name: 'fail/csr-bytes-after-general-names',
    build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(Buffer.concat([der.seq(dnsName(f.identity)), der.seq(uriName('spiffe://cluster.local/ns/kube-system/sa/admin'))]))])) }),
    code: 'ERR_CSR_MALFORMED',
    message: /extension 2\.5\.29\.17 value must be exactly one DER value, found 2/,
  },
  {
    name: 'fail/csr-byte-after-general-names',
    build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(Buffer.concat([der.seq(dnsName(f.identity)), Buffer.from([0x00])]))])) }),
    code: 'ERR_CSR_MALFORMED',
    message: /extension 2\.5\.29\.17: truncated header/,
  },
  {
    name: 'fail/csr-unknown-extension-value-not-der',
    build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(), f.extension('1.3.6.1.4.1.99999.1', Buffer.from([0x30, 0x81, 0x01, 0x00]))])) }),
    code: 'ERR_CSR_MALFORMED',
    message: /non-minimal length/,
  },
  {
    name: 'fail/csr-ignored-attribute-value-not-der',
    build: (f) => {
      // SEQUENCE { UTF8String "pw" with a two-byte length }: the parser reads no field of it.
      const value = der.seq(rawTlv(der.TAG.UTF8_STRING, [0x81, 0x02], Buffer.from('pw')));
      return f.build({ attributes: f.attributes(der.seq(oid('1.2.840.113549.1.9.7'), der.set(value)), f.extensionRequest([f.sanExtension()])) });
    },
    code: 'ERR_CSR_MALFORMED',
    message: /non-minimal length/,
  },
  {
    name: 'fail/csr-nested-too-deep',
    build: (f) => {
      let v: Buffer = der.NULL;
      for (let i = 0; i < 40; i++) v = der.seq(v);
      return f.build({ attributes: f.attributes(der.seq(oid('1.2.840.113549.1.9.7'), der.set(v)), f.extensionRequest([f.sanExtension()])) });
    },
    code: 'ERR_CSR_MALFORMED',
    message: /nested deeper than 24 levels/,
  },
  { name: 'fail/csr-empty-general-names', build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(der.seq())])) }), code: 'ERR_CSR_MALFORMED', message: /GeneralNames is empty/ },
  {
    name: 'fail/csr-general-name-bad-tag',
    build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(der.seq(dnsName(f.identity), der.seq()))])) }),
    code: 'ERR_CSR_MALFORMED',
    message: /tag 0x30 is not a GeneralName/,
  },
  { name: 'fail/csr-critical-not-der-boolean', build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(undefined, TRUE_NOT_DER)])) }), code: 'ERR_CSR_MALFORMED', message: /BOOLEAN 0x1 is not DER/ },
  { name: 'fail/csr-empty-extension-request', build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([])) }), code: 'ERR_CSR_MALFORMED', message: /non-empty SEQUENCE of extensions/ },
  { name: 'fail/csr-attribute-without-values', build: (f) => f.build({ attributes: f.attributes(der.seq(oid('1.2.840.113549.1.9.7'), der.set()), f.extensionRequest([f.sanExtension()])) }), code: 'ERR_CSR_MALFORMED', message: /attribute has no value/ },
  { name: 'fail/csr-attributes-missing', build: (f) => f.build({ attributes: null }), code: 'ERR_CSR_MALFORMED', message: /CertificationRequestInfo must be exactly/ },
  { name: 'fail/csr-info-extra-element-50KB', build: (f) => f.build({ infoExtra: [der.octetString(BIG)] }), code: 'ERR_CSR_MALFORMED', message: /CertificationRequestInfo must be exactly/ },
  { name: 'fail/csr-request-extra-element', build: (f) => f.build({ outerExtra: [der.NULL] }), code: 'ERR_CSR_MALFORMED', message: /expected exactly SEQUENCE/ },
  { name: 'fail/csr-version-1', build: (f) => f.build({ version: der.smallInteger(1) }), code: 'ERR_CSR_MALFORMED', message: /version must be 0/ },
  { name: 'fail/csr-signature-algorithm-with-parameters', build: (f) => f.build({ signatureAlgorithm: der.seq(oid(OID.ecdsaWithSha256), der.NULL) }), code: 'ERR_CSR_MALFORMED', message: /must have no parameters/ },
  { name: 'fail/csr-signature-not-der', build: (f) => f.build({ signature: nonMinimalR }), code: 'ERR_CSR_SIGNATURE', message: /not a DER ECDSA-Sig-Value/ },
  { name: 'fail/csr-empty-rdn', build: (f) => f.build({ subject: f.name(der.set()) }), code: 'ERR_CSR_MALFORMED', message: /non-empty SET/ },
  { name: 'fail/csr-oid-50KB', build: (f) => f.build({ attributes: f.attributes(der.seq(der.tlv(der.TAG.OID, Buffer.alloc(50_000, 0x2a)), der.set(der.NULL)), f.extensionRequest([f.sanExtension()])) }), code: 'ERR_CSR_MALFORMED', message: /longer than 64 bytes/ },
  { name: 'fail/csr-common-name-bmp-string', build: (f) => f.build({ subject: f.name(f.rdn(OID.commonName, der.tlv(der.TAG.BMP_STRING, Buffer.from(f.identity, 'utf16le').swap16()))) }), code: 'ERR_CSR_COMMON_NAME', message: /UTF8String, PrintableString or IA5String/ },
  { name: 'fail/csr-common-name-50000-chars', build: (f) => f.build({ subject: f.name(f.rdn(OID.commonName, der.utf8String('a'.repeat(50_000)))) }), code: 'ERR_CSR_COMMON_NAME', message: /found "a{80}…"$/ },
  { name: 'fail/csr-dns-name-50000-chars', build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(der.seq(dnsName('a'.repeat(50_000))))])) }), code: 'ERR_CSR_SAN_MISMATCH', message: /found \["a{80}…"\]$/ },
];

/** Requests that are odd but acceptable; the leaf must still be exactly our profile. */
export const ACCEPTED_CSRS: { name: string; build: (f: CsrForge) => Buffer }[] = [
  { name: 'ok/csr-compressed-point', build: (f) => f.build({ spki: f.spki(f.compressedPoint) }) },
  { name: 'ok/csr-san-marked-critical', build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(undefined, der.TRUE)])) }) },
  {
    name: 'ok/csr-requests-ca-true-which-is-ignored',
    build: (f) => f.build({ attributes: f.attributes(f.extensionRequest([f.sanExtension(), f.extension(OID.basicConstraints, der.seq(der.TRUE), der.TRUE)])) }),
  },
  { name: 'ok/csr-other-attribute-is-ignored', build: (f) => f.build({ attributes: f.attributes(der.seq(oid('1.2.840.113549.1.9.7'), der.set(der.utf8String('secret'))), f.extensionRequest([f.sanExtension()])) }) },
  { name: 'ok/csr-common-name-printable-string', build: (f) => f.build({ subject: f.name(f.rdn(OID.commonName, der.tlv(der.TAG.PRINTABLE_STRING, Buffer.from(f.identity)))) }) },
];
