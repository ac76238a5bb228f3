/**
 * The parts of a PKCS#10 request that only name things: the subject's Common Names and the
 * requested subjectAltName. Read exactly (RFC 2986 4.1, RFC 5280 4.2): a request with two
 * extensionRequest attributes, two values in one, the same extension twice, or bytes after
 * the GeneralNames is refused, because another reader (openssl reads the first SAN, our old
 * parser kept the last) could see names we did not check.
 */
import * as der from './der.js';
import { PkiError } from './errors.js';
import { decodeGeneralNames, noSans, type SubjectAltNames } from './general-names.js';
import { OID } from './oids.js';

const { TAG } = der;

const malformed = (msg: string) => new PkiError('ERR_CSR_MALFORMED', `certificate_signing_request: ${msg}`);

// String types a Common Name equal to a DNS identity can be written in.
const CN_STRING_TAGS = new Set<number>([TAG.UTF8_STRING, TAG.PRINTABLE_STRING, TAG.IA5_STRING]);

/** Name ::= SEQUENCE OF SET (non-empty) OF SEQUENCE { OID, value }; returns the CN values. */
export function readCommonNames(buf: Uint8Array, subjectT: der.Tlv): string[] {
  const out: string[] = [];
  for (const rdn of der.children(buf, subjectT, 'subject')) {
    const atvs = rdn.tag === TAG.SET ? der.children(buf, rdn, 'subject RDN') : [];
    if (atvs.length === 0) throw malformed('subject RDN must be a non-empty SET');
    for (const atv of atvs) {
      const parts = atv.tag === TAG.SEQUENCE ? der.children(buf, atv, 'subject attribute') : [];
      if (parts.length !== 2 || parts[0].tag !== TAG.OID) throw malformed('subject attribute must be exactly SEQUENCE { OID, value }');
      if (der.decodeOid(der.content(buf, parts[0]), 'subject attribute') !== OID.commonName) continue;
      if (!CN_STRING_TAGS.has(parts[1].tag)) {
        throw new PkiError('ERR_CSR_COMMON_NAME', 'certificate_signing_request: Common Name must be a UTF8String, PrintableString or IA5String');
      }
      out.push(der.content(buf, parts[1]).toString('utf8'));
    }
  }
  return out;
}

/** attributes [0] IMPLICIT SET OF Attribute; returns the requested SANs (none if no extensionRequest). */
export function readRequestedSans(buf: Uint8Array, attrsT: der.Tlv): SubjectAltNames {
  let request: der.Tlv | null = null;
  for (const attr of der.children(buf, attrsT, 'attributes')) {
    const parts = attr.tag === TAG.SEQUENCE ? der.children(buf, attr, 'attribute') : [];
    if (parts.length !== 2 || parts[0].tag !== TAG.OID || parts[1].tag !== TAG.SET) {
      throw malformed('attribute must be exactly SEQUENCE { OID, SET OF value }');
    }
    const values = der.children(buf, parts[1], 'attribute values');
    if (values.length === 0) throw malformed('attribute has no value');
    if (der.decodeOid(der.content(buf, parts[0]), 'attribute') !== OID.extensionRequest) continue;
    if (request) throw malformed('more than one extensionRequest attribute');
    if (values.length !== 1) throw malformed(`extensionRequest attribute has ${values.length} values; expected one`);
    request = values[0];
  }
  return request ? readExtensions(buf, request) : noSans();
}

/** Extensions ::= SEQUENCE SIZE (1..MAX) OF SEQUENCE { OID, critical BOOLEAN DEFAULT FALSE, OCTET STRING }. */
function readExtensions(buf: Uint8Array, extsT: der.Tlv): SubjectAltNames {
  const exts = extsT.tag === TAG.SEQUENCE ? der.children(buf, extsT, 'extensionRequest') : [];
  if (exts.length === 0) throw malformed('extensionRequest must be a non-empty SEQUENCE of extensions');
  const seen = new Set<string>();
  let sans = noSans();
  for (const ext of exts) {
    const parts = ext.tag === TAG.SEQUENCE ? der.children(buf, ext, 'extension') : [];
    const valueT = parts[parts.length - 1];
    const shaped =
      (parts.length === 2 || (parts.length === 3 && parts[1].tag === TAG.BOOLEAN)) && parts[0].tag === TAG.OID && valueT.tag === TAG.OCTET_STRING;
    if (!shaped) throw malformed('extension must be exactly SEQUENCE { OID, [BOOLEAN,] OCTET STRING }');
    // Criticality is not honoured (the leaf's extensions are fixed), but it must still be DER.
    if (parts.length === 3) der.decodeBoolean(buf, parts[1], 'extension critical');
    const oid = der.decodeOid(der.content(buf, parts[0]), 'extension');
    // extnValue holds exactly one DER value, even for extensions we ignore.
    const values = der.walk(buf, valueT.contentStart, valueT.end, `extension ${oid}`);
    if (values !== 1) throw malformed(`extension ${oid} value must be exactly one DER value, found ${values}`);
    if (seen.has(oid)) throw malformed(`extension ${oid} appears more than once`);
    seen.add(oid);
    if (oid === OID.subjectAltName) sans = decodeGeneralNames(buf, valueT.contentStart, valueT.end);
  }
  return sans;
}
