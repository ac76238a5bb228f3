/**
 * GeneralNames (RFC 5280 4.2.1.6), the value of a subjectAltName extension, read exactly:
 * one non-empty SEQUENCE filling the extension value, each element a GeneralName.
 */
import * as der from './der.js';

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

export const noSans = (): SubjectAltNames => ({ dns: [], uri: [], ip: [], email: [], other: 0 });

// The context tags a GeneralName may have in DER: IA5String choices are primitive
// (rfc822Name 0x81, dNSName 0x82, URI 0x86, iPAddress 0x87, registeredID 0x88), the others
// constructed (otherName 0xa0, x400Address 0xa3, directoryName 0xa4, ediPartyName 0xa5).
const OTHER_TAGS = new Set([0xa0, 0xa3, 0xa4, 0xa5, 0x88]);

/**
 * Decodes the GeneralNames filling [start, end) exactly. Throws DerError for bytes after
 * the SEQUENCE, an empty SEQUENCE, or an element that is not a GeneralName: a name a reader
 * might see and we would not is a name we must not sign around.
 */
export function decodeGeneralNames(buf: Uint8Array, start: number, end: number): SubjectAltNames {
  const seqT = der.single(buf, start, end, TAG.SEQUENCE, 'subjectAltName');
  const names = der.children(buf, seqT, 'GeneralName');
  if (names.length === 0) throw new der.DerError('subjectAltName', 'GeneralNames is empty');
  const sans = noSans();
  for (const gn of names) {
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
        if (!OTHER_TAGS.has(gn.tag)) throw new der.DerError('GeneralName', `tag 0x${gn.tag.toString(16)} is not a GeneralName`);
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
