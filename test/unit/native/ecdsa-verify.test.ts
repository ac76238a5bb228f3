/**
 * The addon's ecdsaVerify against keys and signatures made by node:crypto: true only for a
 * valid signature by a valid point, false for every bad input, TypeError for wrong types,
 * and no memory growth over many refused inputs.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { NativeAddon, NativeCurve, NativeHash } from '../../../proxy/native/index.js';
import { describeNative } from './native-fixture.js';

interface Signed {
  curve: NativeCurve;
  hash: NativeHash;
  point: Buffer;
  compressed: Buffer;
  data: Buffer;
  sig: Buffer;
  key: KeyObject;
}

function signed(curve: NativeCurve, hash: NativeHash, data = Buffer.from('CertificationRequestInfo stand-in')): Signed {
  const kp = generateKeyPairSync('ec', { namedCurve: curve });
  const jwk = kp.publicKey.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x!, 'base64url');
  const y = Buffer.from(jwk.y!, 'base64url');
  return {
    curve,
    hash,
    point: Buffer.concat([Buffer.from([4]), x, y]),
    compressed: Buffer.concat([Buffer.from([2 + (y[y.length - 1] & 1)]), x]),
    data,
    sig: sign(hash, data, { key: kp.privateKey, dsaEncoding: 'der' }),
    key: kp.privateKey,
  };
}

const flip = (b: Buffer, i: number, mask = 0x01) => {
  const c = Buffer.from(b);
  c[i < 0 ? c.length + i : i] ^= mask;
  return c;
};

describeNative('ecdsaVerify', (addon: NativeAddon) => {
  const combos = (['P-256', 'P-384'] as const).flatMap((curve) => (['sha256', 'sha384', 'sha512'] as const).map((hash) => [curve, hash] as const));

  test.each(combos)('ok/%s-%s signature from node:crypto verifies', (curve, hash) => {
    const s = signed(curve, hash);
    expect(addon.ecdsaVerify(curve, s.point, hash, s.data, s.sig)).toBe(true);
    expect(addon.ecdsaVerify(curve, s.compressed, hash, s.data, s.sig)).toBe(true);
  });

  test('ok/signature-over-empty-data', () => {
    const s = signed('P-256', 'sha256', Buffer.alloc(0));
    expect(addon.ecdsaVerify('P-256', s.point, 'sha256', Buffer.alloc(0), s.sig)).toBe(true);
  });

  test('ok/uint8array-arguments', () => {
    const s = signed('P-256', 'sha256');
    expect(addon.ecdsaVerify('P-256', new Uint8Array(s.point), 'sha256', new Uint8Array(s.data), new Uint8Array(s.sig))).toBe(true);
  });

  const p256 = signed('P-256', 'sha256');
  const p384 = signed('P-384', 'sha384');
  const other = signed('P-256', 'sha256');
  const refusals: [string, () => boolean][] = [
    ['fail/wrong-signature', () => addon.ecdsaVerify('P-256', p256.point, 'sha256', p256.data, other.sig)],
    ['fail/signature-bit-flipped', () => addon.ecdsaVerify('P-256', p256.point, 'sha256', p256.data, flip(p256.sig, -1))],
    ['fail/wrong-data', () => addon.ecdsaVerify('P-256', p256.point, 'sha256', flip(p256.data, 0), p256.sig)],
    ['fail/wrong-hash', () => addon.ecdsaVerify('P-256', p256.point, 'sha384', p256.data, p256.sig)],
    ['fail/another-key', () => addon.ecdsaVerify('P-256', other.point, 'sha256', p256.data, p256.sig)],
    ['fail/point-off-curve', () => addon.ecdsaVerify('P-256', flip(p256.point, -1), 'sha256', p256.data, p256.sig)],
    ['fail/point-at-infinity', () => addon.ecdsaVerify('P-256', Buffer.from([0]), 'sha256', p256.data, p256.sig)],
    ['fail/point-bad-prefix', () => addon.ecdsaVerify('P-256', flip(p256.point, 0, 0x10), 'sha256', p256.data, p256.sig)],
    ['fail/point-truncated', () => addon.ecdsaVerify('P-256', p256.point.subarray(0, 64), 'sha256', p256.data, p256.sig)],
    ['fail/p384-point-on-p256', () => addon.ecdsaVerify('P-256', p384.point, 'sha384', p384.data, p384.sig)],
    ['fail/p256-point-on-p384', () => addon.ecdsaVerify('P-384', p256.point, 'sha256', p256.data, p256.sig)],
    ['fail/der-truncated', () => addon.ecdsaVerify('P-256', p256.point, 'sha256', p256.data, p256.sig.subarray(0, p256.sig.length - 3))],
    ['fail/der-trailing-byte', () => addon.ecdsaVerify('P-256', p256.point, 'sha256', p256.data, Buffer.concat([p256.sig, Buffer.from([0])]))],
    ['fail/der-garbage', () => addon.ecdsaVerify('P-256', p256.point, 'sha256', p256.data, Buffer.from('not a DER signature at all'))],
    ['fail/der-raw-r-s', () => addon.ecdsaVerify('P-256', p256.point, 'sha256', p256.data, sign('sha256', p256.data, { key: p256.key, dsaEncoding: 'ieee-p1363' }))],
    ['fail/empty-point', () => addon.ecdsaVerify('P-256', Buffer.alloc(0), 'sha256', p256.data, p256.sig)],
    ['fail/empty-signature', () => addon.ecdsaVerify('P-256', p256.point, 'sha256', p256.data, Buffer.alloc(0))],
    ['fail/empty-data', () => addon.ecdsaVerify('P-256', p256.point, 'sha256', Buffer.alloc(0), p256.sig)],
    ['fail/all-empty', () => addon.ecdsaVerify('P-256', Buffer.alloc(0), 'sha256', Buffer.alloc(0), Buffer.alloc(0))],
  ];
  test.each(refusals)('%s is false', (_name, call) => {
    expect(call()).toBe(false);
  });

  const call = (...args: unknown[]) => () => (addon.ecdsaVerify as (...a: unknown[]) => boolean)(...args);
  const { point, data, sig } = p256;
  test.each([
    ['curve', call(256, point, 'sha256', data, sig), /^curve must be a string$/],
    ['curve', call('P-521', point, 'sha256', data, sig), /^curve must be 'P-256' or 'P-384'$/],
    ['point', call('P-256', '04abcd', 'sha256', data, sig), /^point must be a Buffer or Uint8Array$/],
    ['point', call('P-256', null, 'sha256', data, sig), /^point must be a Buffer or Uint8Array$/],
    ['point', call('P-256', new Float64Array(8), 'sha256', data, sig), /^point must be a Buffer or Uint8Array$/],
    ['hash', call('P-256', point, undefined, data, sig), /^hash must be a string$/],
    ['hash', call('P-256', point, 'md5', data, sig), /^hash must be 'sha256', 'sha384' or 'sha512'$/],
    ['data', call('P-256', point, 'sha256', {}, sig), /^data must be a Buffer or Uint8Array$/],
    ['derSignature', call('P-256', point, 'sha256', data, [1, 2, 3]), /^derSignature must be a Buffer or Uint8Array$/],
    ['(count)', call('P-256', point), /takes 5 arguments/],
  ])('fail/type-error-naming-%s', (_arg, fn, message) => {
    // The addon's errors come from Node's own realm, not Jest's, so compare by name.
    expect(fn).toThrow(expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(message) }));
  });

  test('a refused input leaves no OpenSSL error behind for node:crypto', () => {
    expect(addon.ecdsaVerify('P-256', flip(point, -1), 'sha256', data, sig)).toBe(false);
    expect(sign('sha256', data, { key: p256.key, dsaEncoding: 'der' }).length).toBeGreaterThan(60);
  });

  test('no leak: 200k refused verifications keep RSS flat', () => {
    const offCurve = flip(point, -1);
    const badDer = Buffer.from('30440220ffff', 'hex');
    const wrongLength = p384.point;
    const inputs: [NativeCurve, Buffer, Buffer][] = [
      ['P-256', offCurve, sig],
      ['P-256', point, badDer],
      ['P-256', Buffer.from([0]), sig],
      ['P-256', wrongLength, sig],
      ['P-384', point, sig],
      ['P-256', Buffer.alloc(0), Buffer.alloc(0)],
    ];
    const run = (n: number) => {
      for (let i = 0; i < n; i++) {
        const [curve, pt, s] = inputs[i % inputs.length];
        if (addon.ecdsaVerify(curve, pt, 'sha256', data, s)) throw new Error('a bad input verified');
        if (i % 50 === 0) {
          // A type error and a full-cost refusal (valid point, wrong signature) now and then.
          try {
            addon.ecdsaVerify('P-256', point, 'md5' as NativeHash, data, sig);
          } catch {
            // expected
          }
          addon.ecdsaVerify('P-256', point, 'sha256', data, other.sig);
        }
      }
    };
    // Collect JS garbage before each sample, so what is left is the addon's own (malloc'd) memory.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    run(20_000); // warm-up: allocator pools and JIT reach their steady state first
    gc();
    const before = process.memoryUsage().rss;
    run(200_000);
    gc();
    const grownMiB = (process.memoryUsage().rss - before) / 2 ** 20;
    // A leaked EC_KEY + EC_POINT per call would be tens of MiB here.
    expect(grownMiB).toBeLessThan(4);
  });
});
