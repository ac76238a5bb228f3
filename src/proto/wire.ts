/**
 * The few protobuf wire-format primitives the hand-written codecs need (varints,
 * length-delimited fields, a field reader that skips unknown fields).
 */

export const LEN = 2; // wire type: length-delimited
export const VARINT = 0;
export const FIXED64 = 1;
export const FIXED32 = 5;

export function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

export function lengthDelimited(field: number, value: Uint8Array): Buffer[] {
  return [Buffer.from([(field << 3) | LEN, ...varint(value.length)]), Buffer.from(value.buffer, value.byteOffset, value.length)];
}

export class ProtobufError extends Error {}

/** Reads fields of one message; unknown fields are skipped, as protobuf requires. */
export function* fields(buf: Buffer): Generator<{ field: number; wire: number; value: Buffer | number }> {
  let p = 0;
  const readVarint = (): number => {
    let n = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (p >= buf.length) throw new ProtobufError('truncated varint');
      const b = buf[p++];
      n += (b & 0x7f) * mul;
      if ((b & 0x80) === 0) return n;
      mul *= 128;
    }
    throw new ProtobufError('varint too long');
  };
  while (p < buf.length) {
    const key = readVarint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === VARINT) yield { field, wire, value: readVarint() };
    else if (wire === LEN) {
      const len = readVarint();
      if (p + len > buf.length) throw new ProtobufError(`field ${field} overruns the message`);
      yield { field, wire, value: buf.subarray(p, p + len) };
      p += len;
    } else if (wire === FIXED64 || wire === FIXED32) {
      // Skipped, but only if they are all there: a cut field is a cut message (protobufjs
      // throws "index out of range" here too), never a silent end of the fields.
      const size = wire === FIXED64 ? 8 : 4;
      if (p + size > buf.length) throw new ProtobufError(`field ${field}: truncated fixed${size * 8}`);
      p += size;
    } else throw new ProtobufError(`unsupported wire type ${wire}`);
  }
}


/** google.protobuf.Timestamp { int64 seconds = 1; int32 nanos = 2; } (times after 1970 only). */
export function encodeTimestamp(t: { seconds: number; nanos: number }): Buffer {
  return Buffer.from([...(t.seconds ? [(1 << 3) | VARINT, ...varint(t.seconds)] : []), ...(t.nanos ? [(2 << 3) | VARINT, ...varint(t.nanos)] : [])]);
}

export function decodeTimestamp(buf: Buffer): { seconds: number; nanos: number } {
  const t = { seconds: 0, nanos: 0 };
  for (const f of fields(buf)) {
    if (f.wire !== VARINT) continue;
    if (f.field === 1) t.seconds = f.value as number;
    else if (f.field === 2) t.nanos = f.value as number;
  }
  return t;
}
