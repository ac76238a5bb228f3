/**
 * The few X.509 fields Node's X509Certificate does not expose (the raw subject Name, the
 * key identifiers, the TBS bytes), read straight from DER.
 */
import { createHash } from 'node:crypto';
import * as der from './der.js';
import { PkiError } from './errors.js';
import { OID } from './oids.js';
import { decodeGeneralNames, type SubjectAltNames } from './general-names.js';

const { TAG } = der;

export interface CertificateFields {
  tbs: Buffer;
  serial: Buffer;
  issuerName: Buffer;
  subjectName: Buffer;
  notBefore: Date;
  notAfter: Date;
  spki: Buffer;
  publicKey: Buffer;
  /** Subject key identifier from the extension, or the RFC 5280 method-1 SHA-1 if absent. */
  subjectKeyId: Buffer;
  authorityKeyId: Buffer | null;
  isCa: boolean;
  /** BasicConstraints pathLenConstraint, or null when absent (unlimited). */
  pathLen: number | null;
  /** KeyUsage keyCertSign, or null when the certificate has no KeyUsage extension. */
  keyCertSign: boolean | null;
  sans: SubjectAltNames;
  /** Extension OIDs marked critical. */
  critical: string[];
}

export function parseCertificate(buf: Uint8Array): CertificateFields {
  try {
    return parse(buf);
  } catch (e) {
    if (e instanceof der.DerError) throw new PkiError('ERR_CHAIN_INVALID', `certificate is not valid DER: ${e.message}`);
    throw e;
  }
}

function parse(buf: Uint8Array): CertificateFields {
  const outer = der.expectTlv(buf, 0, buf.length, TAG.SEQUENCE, 'Certificate');
  const [tbsT] = der.children(buf, outer, 'Certificate');
  if (!tbsT || tbsT.tag !== TAG.SEQUENCE) throw new der.DerError('Certificate', 'no TBSCertificate');
  const f = der.children(buf, tbsT, 'TBSCertificate');
  let i = f[0]?.tag === 0xa0 ? 1 : 0;
  const serialT = f[i++];
  i++; // signature algorithm
  const issuerT = f[i++];
  const validityT = f[i++];
  const subjectT = f[i++];
  const spkiT = f[i++];
  if (!serialT || !issuerT || !validityT || !subjectT || !spkiT) throw new der.DerError('TBSCertificate', 'too few fields');
  const [nbT, naT] = der.children(buf, validityT, 'validity');
  if (!nbT || !naT) throw new der.DerError('validity', 'missing times');
  const [, keyT] = der.children(buf, spkiT, 'subjectPublicKeyInfo');
  if (!keyT || keyT.tag !== TAG.BIT_STRING) throw new der.DerError('subjectPublicKeyInfo', 'no key bits');
  const publicKey = der.content(buf, keyT).subarray(1);

  let subjectKeyId: Buffer | null = null;
  let authorityKeyId: Buffer | null = null;
  let isCa = false;
  let pathLen: number | null = null;
  let keyCertSign: boolean | null = null;
  let sans: SubjectAltNames = { dns: [], uri: [], ip: [], email: [], other: 0 };
  const critical: string[] = [];
  const extsWrap = f.slice(i).find((t) => t.tag === 0xa3);
  if (extsWrap) {
    const [extsT] = der.children(buf, extsWrap, 'extensions');
    for (const ext of der.children(buf, extsT, 'extension')) {
      const parts = der.children(buf, ext, 'extension');
      const oid = der.decodeOid(der.content(buf, parts[0]));
      const valueT = parts[parts.length - 1];
      if (parts.length === 3 && buf[parts[1].contentStart] !== 0) critical.push(oid);
      if (oid === OID.subjectKeyIdentifier) {
        subjectKeyId = der.content(buf, der.expectTlv(buf, valueT.contentStart, valueT.end, TAG.OCTET_STRING, 'SKI'));
      } else if (oid === OID.authorityKeyIdentifier) {
        const akiT = der.expectTlv(buf, valueT.contentStart, valueT.end, TAG.SEQUENCE, 'AKI');
        const keyIdT = der.children(buf, akiT, 'AKI').find((t) => t.tag === 0x80);
        if (keyIdT) authorityKeyId = der.content(buf, keyIdT);
      } else if (oid === OID.basicConstraints) {
        const bcT = der.expectTlv(buf, valueT.contentStart, valueT.end, TAG.SEQUENCE, 'basicConstraints');
        const parts = der.children(buf, bcT, 'basicConstraints');
        isCa = parts[0]?.tag === TAG.BOOLEAN && buf[parts[0].contentStart] !== 0;
        const lenT = parts.find((t) => t.tag === TAG.INTEGER);
        if (lenT) pathLen = der.content(buf, lenT).reduce((n, b) => n * 256 + b, 0);
      } else if (oid === OID.keyUsage) {
        const kuT = der.expectTlv(buf, valueT.contentStart, valueT.end, TAG.BIT_STRING, 'keyUsage');
        const bits = der.content(buf, kuT);
        // keyCertSign is bit 5: the 0x04 bit of the first content byte after the unused-bits count.
        keyCertSign = bits.length > 1 && (bits[1] & 0x04) !== 0;
      } else if (oid === OID.subjectAltName) {
        sans = decodeGeneralNames(buf, valueT.contentStart, valueT.end);
      }
    }
  }
  return {
    tbs: der.whole(buf, tbsT),
    serial: der.content(buf, serialT),
    issuerName: der.whole(buf, issuerT),
    subjectName: der.whole(buf, subjectT),
    notBefore: der.decodeTime(buf, nbT, 'notBefore'),
    notAfter: der.decodeTime(buf, naT, 'notAfter'),
    spki: der.whole(buf, spkiT),
    publicKey,
    subjectKeyId: subjectKeyId ?? sha1(publicKey),
    authorityKeyId,
    isCa,
    pathLen,
    keyCertSign,
    sans,
    critical,
  };
}

export const sha1 = (b: Uint8Array): Buffer => createHash('sha1').update(b).digest();
