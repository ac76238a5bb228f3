import fc from 'fast-check';
import * as der from '../../../src/pki/der.js';

describe('DER writer', () => {
  test.each([
    ['ok/short-length', der.tlv(0x04, Buffer.alloc(3)), '0403000000'],
    ['ok/long-length-1', der.tlv(0x04, Buffer.alloc(200)).subarray(0, 3), '0481c8'],
    ['ok/long-length-2', der.tlv(0x04, Buffer.alloc(300)).subarray(0, 4), '0482012c'],
    ['ok/integer-zero', der.smallInteger(0), '020100'],
    ['ok/integer-high-bit-padded', der.unsignedInteger(Buffer.from([0x80])), '02020080'],
    ['ok/integer-leading-zeros-trimmed', der.unsignedInteger(Buffer.from([0, 0, 1])), '020101'],
    ['ok/oid-ec-public-key', der.encodeOid('1.2.840.10045.2.1'), '06072a8648ce3d0201'],
    ['ok/oid-large-arc', der.encodeOid('2.5.29.17'), '0603551d11'],
    ['ok/utc-time-2049', der.time(new Date('2049-12-31T23:59:59Z')), '170d3439313233313233353935395a'],
    ['ok/generalized-time-2050', der.time(new Date('2050-01-01T00:00:00Z')), '180f32303530303130313030303030305a'],
    ['ok/time-truncates-fraction', der.time(new Date('2026-01-02T03:04:05.999Z')), '170d3236303130323033303430355a'],
  ])('%s', (_n, got, hex) => {
    expect(got.toString('hex')).toBe(hex);
  });
});

describe('DER reader', () => {
  test('ok/round-trip-oid', () => {
    for (const oid of ['1.2.840.10045.3.1.7', '1.3.132.0.34', '2.5.29.35', '1.3.6.1.5.5.7.3.2']) {
      const enc = der.encodeOid(oid);
      expect(der.decodeOid(enc.subarray(2))).toBe(oid);
    }
  });

  test('ok/round-trip-time', () => {
    for (const iso of ['1999-12-31T23:59:59.000Z', '2026-11-21T05:00:00.000Z', '2050-01-01T00:00:00.000Z', '9999-12-31T23:59:59.000Z']) {
      const enc = der.time(new Date(iso));
      expect(der.decodeTime(enc, der.readTlv(enc, 0, enc.length, 't'), 't').toISOString()).toBe(iso);
    }
  });

  test.each([
    ['fail/truncated-header', '30', /truncated header/],
    ['fail/truncated-content', '300500', /truncated: needs 7 bytes, has 3/],
    ['fail/indefinite-length', '3080', /indefinite length/],
    ['fail/non-minimal-length', '30810100', /non-minimal length/],
    ['fail/huge-length', '3085ffffffffff', /length too large/],
    ['fail/multi-byte-tag', '1f8100', /multi-byte tags/],
  ])('%s', (_n, hex, msg) => {
    const b = Buffer.from(hex, 'hex');
    expect(() => der.readTlv(b, 0, b.length, 'x')).toThrow(msg);
  });

  test('fail/bad-time-text', () => {
    const b = Buffer.from('170b323630313032303330345a', 'hex'); // no seconds
    expect(() => der.decodeTime(b, der.readTlv(b, 0, b.length, 't'), 'notBefore')).toThrow(/notBefore: bad time/);
  });

  test('fail/non-minimal-oid', () => {
    expect(() => der.decodeOid(Buffer.from([0x2a, 0x80, 0x01]))).toThrow(/non-minimal/);
    expect(() => der.decodeOid(Buffer.from([0x2a, 0x86]))).toThrow(/truncated/);
  });
});

describe('DER reader properties', () => {
  test('property/readTlv on any bytes returns a TLV inside the limit, or throws DerError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const t = der.readTlv(bytes, 0, bytes.length, 'x');
          expect(t.start).toBe(0);
          expect(t.contentStart).toBeLessThanOrEqual(t.end);
          expect(t.end).toBeLessThanOrEqual(bytes.length);
          // What was read is minimal: writing it again gives the same bytes.
          expect(der.tlv(t.tag, bytes.subarray(t.contentStart, t.end))).toEqual(Buffer.from(bytes.subarray(0, t.end)));
        } catch (e) {
          expect(e).toBeInstanceOf(der.DerError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('property/the writer round-trips through the reader for any tag and content', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x1e }), fc.uint8Array({ maxLength: 300 }), (tag, body) => {
        const enc = der.tlv(tag, body);
        const t = der.readTlv(enc, 0, enc.length, 'x');
        expect({ tag: t.tag, end: t.end }).toEqual({ tag, end: enc.length });
        expect(Buffer.from(enc.subarray(t.contentStart))).toEqual(Buffer.from(body));
      }),
    );
  });

  test('property/walk on any bytes counts TLVs or throws DerError, never overflowing the stack', () => {
    const nested = fc.integer({ min: 1, max: 16_000 }).map((depth) => {
      // `depth` SEQUENCEs each claiming the rest of the buffer (long-form lengths).
      const out: number[] = [];
      for (let i = 0; i < depth; i++) {
        const rest = (depth - i - 1) * 4;
        out.push(0x30, 0x82, rest >> 8, rest & 0xff);
      }
      return Uint8Array.from(out);
    });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 128 }), nested), (bytes) => {
        try {
          expect(der.walk(bytes, 0, bytes.length, 'x')).toBeGreaterThanOrEqual(0);
        } catch (e) {
          expect(e).toBeInstanceOf(der.DerError);
        }
      }),
      { numRuns: 500 },
    );
  });

  test.each([
    ['fail/oid-longer-than-64-bytes', () => der.decodeOid(Buffer.alloc(65, 0x01)), /longer than 64 bytes/],
    ['fail/boolean-not-der', () => der.decodeBoolean(Buffer.from([1, 1, 1]), der.readTlv(Buffer.from([1, 1, 1]), 0, 3, 'b'), 'b'), /not DER/],
    ['fail/bytes-after-single-value', () => der.single(Buffer.from([0x30, 0, 0]), 0, 3, 0x30, 'v'), /1 bytes after the v/],
  ])('%s', (_n, f, msg) => {
    expect(f).toThrow(msg);
  });
});
