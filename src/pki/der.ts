/**
 * A minimal DER reader and writer: just what certificates and CSRs need.
 *
 * The signing path encodes and parses X.509 by hand instead of through a general ASN.1
 * library because it runs once per Certify call: a schema-driven encoder costs ~2 ms per
 * leaf, while these helpers cost a few microseconds and leave the time to the signature.
 */

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  UNIVERSAL_STRING: 0x1c,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** Thrown for any malformed encoding; `where` names the structure being read. */
export class DerError extends Error {
  constructor(readonly where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'DerError';
  }
}

/** One decoded tag-length-value, as offsets into the buffer it was read from. */
export interface Tlv {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the last content byte. */
  end: number;
}

/** Reads one TLV at `offset`, never reading past `limit`. Only definite lengths (DER). */
export function readTlv(buf: Uint8Array, offset: number, limit: number, where: string): Tlv {
  if (offset + 2 > limit) throw new DerError(where, 'truncated header');
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new DerError(where, 'multi-byte tags are not supported');
  let len = buf[offset + 1];
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0) throw new DerError(where, 'indefinite length is not DER');
    if (n > 4) throw new DerError(where, 'length too large');
    if (pos + n > limit) throw new DerError(where, 'truncated length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i];
    if (len < 0x80 || (n > 1 && buf[pos] === 0)) throw new DerError(where, 'non-minimal length');
    pos += n;
  }
  const end = pos + len;
  if (end > limit) throw new DerError(where, `truncated: needs ${end - offset} bytes, has ${limit - offset}`);
  return { tag, start: offset, contentStart: pos, end };
}

/** Reads a TLV and requires its tag. */
export function expectTlv(buf: Uint8Array, offset: number, limit: number, tag: number, where: string): Tlv {
  const t = readTlv(buf, offset, limit, where);
  if (t.tag !== tag) {
    throw new DerError(where, `expected tag 0x${tag.toString(16)}, found 0x${t.tag.toString(16)}`);
  }
  return t;
}

/** The TLVs directly inside a constructed value. */
export function children(buf: Uint8Array, parent: Tlv, where: string): Tlv[] {
  const out: Tlv[] = [];
  let pos = parent.contentStart;
  while (pos < parent.end) {
    const t = readTlv(buf, pos, parent.end, where);
    out.push(t);
    pos = t.end;
  }
  return out;
}

/** How deep `walk` follows constructed values; a CSR needs 8 levels. */
export const MAX_DEPTH = 24;

/**
 * Checks that [start, end) is a sequence of well-formed TLVs, and so is the content of every
 * constructed one, to MAX_DEPTH: what the typed parsers do not look at (values of
 * attributes and extensions we ignore) must still be DER, with minimal lengths and nothing
 * dangling. Iterative, so 64 KiB of nesting cannot exhaust the stack. Returns how many TLVs
 * lie directly in the range.
 */
export function walk(buf: Uint8Array, start: number, end: number, where: string): number {
  let top = 0;
  const stack: { pos: number; end: number }[] = [{ pos: start, end }];
  while (stack.length) {
    const frame = stack[stack.length - 1];
    if (frame.pos >= frame.end) {
      stack.pop();
      continue;
    }
    const t = readTlv(buf, frame.pos, frame.end, where);
    frame.pos = t.end;
    if (stack.length === 1) top++;
    if (t.tag & 0x20) {
      if (stack.length > MAX_DEPTH) throw new DerError(where, `nested deeper than ${MAX_DEPTH} levels`);
      stack.push({ pos: t.contentStart, end: t.end });
    }
  }
  return top;
}

/** The one TLV filling [start, end) exactly, with `tag`: no trailing bytes. */
export function single(buf: Uint8Array, start: number, end: number, tag: number, where: string): Tlv {
  const t = expectTlv(buf, start, end, tag, where);
  if (t.end !== end) throw new DerError(where, `${end - t.end} bytes after the ${where}`);
  return t;
}

/** A DER BOOLEAN: one content byte, 0x00 or 0xff (BER's other non-zero values are not DER). */
export function decodeBoolean(buf: Uint8Array, t: Tlv, where: string): boolean {
  if (t.tag !== TAG.BOOLEAN || t.end - t.contentStart !== 1) throw new DerError(where, 'not a one-byte BOOLEAN');
  const v = buf[t.contentStart];
  if (v !== 0x00 && v !== 0xff) throw new DerError(where, `BOOLEAN 0x${v.toString(16)} is not DER (0x00 or 0xff)`);
  return v === 0xff;
}

export function content(buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.contentStart, t.end - t.contentStart);
}

export function whole(buf: Uint8Array, t: Tlv): Buffer {
  return Buffer.from(buf.buffer, buf.byteOffset + t.start, t.end - t.start);
}

/** The longest OBJECT IDENTIFIER content we read; real ones are under 40 bytes. */
export const MAX_OID_BYTES = 64;

/**
 * Decodes an OBJECT IDENTIFIER's content to dotted form. Longer than MAX_OID_BYTES is refused:
 * the dotted form may end up in an error message, and a caller's 50 KB "OID" must not.
 */
export function decodeOid(bytes: Uint8Array, where = 'oid'): string {
  if (bytes.length === 0) throw new DerError(where, 'empty object identifier');
  if (bytes.length > MAX_OID_BYTES) throw new DerError(where, `object identifier longer than ${MAX_OID_BYTES} bytes`);
  const parts: number[] = [];
  let value = 0;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (value === 0 && b === 0x80) throw new DerError(where, 'non-minimal object identifier');
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER / 128) throw new DerError(where, 'object identifier arc too large');
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else {
        parts.push(value);
      }
      value = 0;
    } else if (i === bytes.length - 1) {
      throw new DerError(where, 'truncated object identifier');
    }
  }
  return parts.join('.');
}

// ---- writing ----

function lengthBytes(len: number): number[] {
  if (len < 0x80) return [len];
  const out: number[] = [];
  for (let v = len; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

/** Encodes one TLV from already-encoded content parts. */
export function tlv(tag: number, ...parts: Uint8Array[]): Buffer {
  let len = 0;
  for (const p of parts) len += p.length;
  const header = lengthBytes(len);
  const out = Buffer.allocUnsafe(1 + header.length + len);
  out[0] = tag;
  for (let i = 0; i < header.length; i++) out[1 + i] = header[i];
  let pos = 1 + header.length;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

export const seq = (...parts: Uint8Array[]): Buffer => tlv(TAG.SEQUENCE, ...parts);
export const set = (...parts: Uint8Array[]): Buffer => tlv(TAG.SET, ...parts);
export const octetString = (b: Uint8Array): Buffer => tlv(TAG.OCTET_STRING, b);
/** A BIT STRING with no unused bits. */
export const bitString = (b: Uint8Array): Buffer => tlv(TAG.BIT_STRING, Uint8Array.of(0), b);
export const utf8String = (s: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
export const ia5String = (s: string): Buffer => tlv(TAG.IA5_STRING, Buffer.from(s, 'ascii'));
export const explicit = (n: number, inner: Uint8Array): Buffer => tlv(0xa0 | n, inner);
export const TRUE = Buffer.from([0x01, 0x01, 0xff]);
export const NULL = Buffer.from([0x05, 0x00]);

export function encodeOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((s) => {
    if (!/^\d+$/.test(s)) throw new DerError('oid', `bad arc in ${dotted}`);
    return Number(s);
  });
  if (arcs.length < 2) throw new DerError('oid', `too few arcs in ${dotted}`);
  const body: number[] = [];
  const push = (v: number) => {
    const bytes = [v & 0x7f];
    for (v = Math.floor(v / 128); v > 0; v = Math.floor(v / 128)) bytes.unshift(0x80 | (v & 0x7f));
    body.push(...bytes);
  };
  push(arcs[0] * 40 + arcs[1]);
  for (const a of arcs.slice(2)) push(a);
  return tlv(TAG.OID, Uint8Array.from(body));
}

/** Encodes a non-negative big-endian magnitude as a minimal DER INTEGER. */
export function unsignedInteger(magnitude: Uint8Array): Buffer {
  let i = 0;
  while (i < magnitude.length - 1 && magnitude[i] === 0) i++;
  const trimmed = magnitude.subarray(i);
  if (trimmed.length === 0) return Buffer.from([TAG.INTEGER, 1, 0]);
  return trimmed[0] & 0x80 ? tlv(TAG.INTEGER, Uint8Array.of(0), trimmed) : tlv(TAG.INTEGER, trimmed);
}

export function smallInteger(n: number): Buffer {
  if (!Number.isInteger(n) || n < 0 || n > 0x7fffffff) throw new DerError('integer', `unsupported value ${n}`);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return unsignedInteger(Uint8Array.from(bytes.length ? bytes : [0]));
}

const pad2 = (n: number) => (n < 10 ? '0' : '') + n;

/**
 * RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050, always with seconds
 * and `Z`; fractions are not allowed, so the time is truncated to the second.
 */
export function time(d: Date): Buffer {
  const y = d.getUTCFullYear();
  const rest =
    pad2(d.getUTCMonth() + 1) + pad2(d.getUTCDate()) + pad2(d.getUTCHours()) + pad2(d.getUTCMinutes()) + pad2(d.getUTCSeconds()) + 'Z';
  if (y >= 1950 && y < 2050) return tlv(TAG.UTC_TIME, Buffer.from(pad2(y % 100) + rest, 'ascii'));
  if (y < 0 || y > 9999) throw new DerError('time', `year ${y} cannot be encoded`);
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(String(y).padStart(4, '0') + rest, 'ascii'));
}

/** Decodes UTCTime/GeneralizedTime as DER requires them (seconds present, `Z`). */
export function decodeTime(buf: Uint8Array, t: Tlv, where: string): Date {
  const s = Buffer.from(buf.subarray(t.contentStart, t.end)).toString('ascii');
  let m: RegExpExecArray | null;
  let year: number;
  if (t.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    const yy = Number(m[1]);
    year = yy >= 50 ? 1900 + yy : 2000 + yy;
  } else if (t.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(s))) {
    year = Number(m[1]);
  } else {
    throw new DerError(where, `bad time ${JSON.stringify(s.slice(0, 40))}`);
  }
  return new Date(Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
}
