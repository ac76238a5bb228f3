/**
 * Workload keys: point decoding (uncompressed, compressed, refused encodings), the on-curve
 * check against WebCrypto's as an independent oracle, and SPKI encoding from parsed values.
 */
import { ECDH, generateKeyPairSync, webcrypto } from 'node:crypto';
import fc from 'fast-check';
import { decodeEcPoint, ecPublicKeyOf, encodeEcSpki, parseEcSpki, type CurveName } from '../../../src/pki/ec-key.js';
import { PkiError } from '../../../src/pki/errors.js';

const fail = (m: string) => new PkiError('ERR_CSR_MALFORMED', m);
const OPENSSL: Record<CurveName, string> = { 'P-256': 'prime256v1', 'P-384': 'secp384r1' };

function keyOn(curve: CurveName) {
  const kp = generateKeyPairSync('ec', { namedCurve: curve });
  const spki = kp.publicKey.export({ format: 'der', type: 'spki' });
  const point = spki.subarray(spki.length - (curve === 'P-256' ? 65 : 97));
  return { kp, spki, point, compressed: ECDH.convertKey(point, OPENSSL[curve], undefined, undefined, 'compressed') as Buffer };
}

describe.each(['P-256', 'P-384'] as const)('%s', (curve) => {
  const k = keyOn(curve);

  test('ok/uncompressed point is returned as is, and re-encodes to the SPKI Node exports', () => {
    expect(decodeEcPoint(curve, k.point, fail)).toEqual(k.point);
    expect(encodeEcSpki({ curve, point: k.point })).toEqual(k.spki);
    expect(ecPublicKeyOf(k.kp.publicKey)).toEqual({ curve, point: k.point });
  });

  test('ok/compressed point is decompressed to the same point', () => {
    expect(decodeEcPoint(curve, k.compressed, fail)).toEqual(k.point);
  });

  test.each([
    ['hybrid-0x06', (p: Buffer) => Buffer.concat([Buffer.from([0x06]), p.subarray(1)]), /hybrid point encoding \(0x06\)/],
    ['hybrid-0x07', (p: Buffer) => Buffer.concat([Buffer.from([0x07]), p.subarray(1)]), /hybrid point encoding \(0x07\)/],
    ['infinity', () => Buffer.from([0x00]), /point at infinity/],
    ['empty', () => Buffer.alloc(0), /empty/],
    ['unknown-prefix', (p: Buffer) => Buffer.concat([Buffer.from([0x05]), p.subarray(1)]), /unknown point encoding \(0x05\)/],
    ['short', (p: Buffer) => p.subarray(0, p.length - 1), /not a valid/],
    ['long', (p: Buffer) => Buffer.concat([p, Buffer.from([0])]), /not a valid/],
    ['x-at-least-p', (p: Buffer) => Buffer.concat([Buffer.from([0x04]), Buffer.alloc((p.length - 1) / 2, 0xff), p.subarray(1 + (p.length - 1) / 2)]), /not a valid/],
    ['y-flipped', (p: Buffer) => Buffer.concat([p.subarray(0, p.length - 1), Buffer.from([p[p.length - 1] ^ 1])]), /not a valid/],
  ])('fail/%s', (_n, mutate, msg) => {
    expect(() => decodeEcPoint(curve, mutate(k.point), fail)).toThrow(msg);
  });

  test('fail/compressed x with no square root', () => {
    // Walk x = 1, 2, ... until OpenSSL says there is no point: that x must be refused too.
    for (let x = 1; ; x++) {
      const c = Buffer.alloc(k.compressed.length);
      c[0] = 0x02;
      c.writeUInt32BE(x, c.length - 4);
      let valid = true;
      try {
        ECDH.convertKey(c, OPENSSL[curve]);
      } catch {
        valid = false;
      }
      if (!valid) {
        expect(() => decodeEcPoint(curve, c, fail)).toThrow(/not a valid/);
        return;
      }
    }
  });

  test('property/our on-curve verdict is WebCrypto\'s for mutated uncompressed points', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: k.point.length - 2 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
        const p = Buffer.from(k.point);
        p[1 + at] ^= xor;
        const ours = (() => {
          try {
            decodeEcPoint(curve, p, fail);
            return true;
          } catch {
            return false;
          }
        })();
        const theirs = await webcrypto.subtle.importKey('raw', p, { name: 'ECDSA', namedCurve: curve }, false, ['verify']).then(
          () => true,
          () => false,
        );
        expect(ours).toBe(theirs);
      }),
      { numRuns: 100 },
    );
  });
});

describe('parseEcSpki', () => {
  test('fail/RSA key is ERR_CSR_KEY_TYPE', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' });
    expect(() => parseEcSpki(rsa)).toThrow(expect.objectContaining({ code: 'ERR_CSR_KEY_TYPE' }));
  });
  test('fail/trailing bytes', () => {
    const { spki } = keyOn('P-256');
    expect(() => parseEcSpki(Buffer.concat([spki, Buffer.from([0])]))).toThrow(/trailing bytes/);
  });
});
