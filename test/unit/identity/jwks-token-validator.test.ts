/**
 * The jwks validator against a JWKS served over HTTP: keys are fetched once, refetched when a
 * token names an unknown kid (key rotation), and not refetched more than once per cooldown.
 */
import { createServer, type Server } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT, type JSONWebKeySet } from 'jose';
import { JwksSource } from '../../../src/identity/validators/jwks-source.js';
import { JwksTokenValidator } from '../../../src/identity/validators/jwks-token-validator.js';
import { TokenCache } from '../../../src/identity/validators/token-cache.js';

const ISS = 'https://kubernetes.default.svc.cluster.local';

async function keyPair(kid: string) {
  const kp = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { kid, privateKey: kp.privateKey, jwk: { ...(await exportJWK(kp.publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

function projectedToken(k: Awaited<ReturnType<typeof keyPair>>, ns: string, sa: string, aud = 'identity.lanyard.io') {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ 'kubernetes.io': { namespace: ns, serviceaccount: { name: sa, uid: 'u' }, pod: { name: 'p', uid: 'q' } } })
    .setProtectedHeader({ alg: 'RS256', kid: k.kid })
    .setIssuer(ISS)
    .setSubject(`system:serviceaccount:${ns}:${sa}`)
    .setAudience([aud])
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + 600)
    .sign(k.privateKey);
}

describe('jwks validator with a JWKS URL', () => {
  let server: Server;
  let jwks: JSONWebKeySet;
  let fetches = 0;
  let url: string;
  beforeAll(async () => {
    server = createServer((req, res) => {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(jwks));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/openid/v1/jwks`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  test('ok/refetches once on an unknown kid (key rotation), then caches', async () => {
    const k1 = await keyPair('k1');
    const k2 = await keyPair('k2');
    jwks = { keys: [k1.jwk] };
    fetches = 0;
    let now = Date.now();
    const v = new JwksTokenValidator({
      source: new JwksSource({ location: { url }, cooldownMs: 10_000, clock: () => now }),
      issuer: ISS,
      kind: 'jwks',
      cache: new TokenCache({ ttlMs: 0 }),
    });
    await v.start();
    expect(fetches).toBe(1);
    await expect(v.validate(await projectedToken(k1, 'default', 'web'))).resolves.toEqual({ namespace: 'default', serviceAccount: 'web' });
    expect(fetches).toBe(1);

    // The cluster rotates its signing key.
    jwks = { keys: [k1.jwk, k2.jwk] };
    now += 11_000;
    await expect(v.validate(await projectedToken(k2, 'prod', 'api'))).resolves.toEqual({ namespace: 'prod', serviceAccount: 'api' });
    expect(fetches).toBe(2);

    // A bogus kid within the cooldown does not cause another fetch.
    const k3 = await keyPair('k3');
    await expect(v.validate(await projectedToken(k3, 'prod', 'api'))).rejects.toMatchObject({ code: 'ERR_TOKEN_SIGNATURE' });
    expect(fetches).toBe(2);
  });

  test('fail/unreachable JWKS URL is UNAVAILABLE, not a token error', async () => {
    const v = new JwksTokenValidator({ source: new JwksSource({ location: { url: 'http://127.0.0.1:1/jwks' }, timeoutMs: 500 }), issuer: ISS });
    const k = await keyPair('k1');
    await expect(v.validate(await projectedToken(k, 'default', 'web'))).rejects.toMatchObject({ code: 'ERR_VALIDATOR_UNAVAILABLE' });
    await expect(v.start()).rejects.toThrow(/cannot load the JWKS/);
  });
});

describe('jwks validator with a JWKS file', () => {
  test('ok/file source, verified-token cache', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'jwks-'));
    try {
      const k = await keyPair('file-key');
      writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [k.jwk] }));
      const cache = new TokenCache();
      const v = new JwksTokenValidator({ source: new JwksSource({ location: { file: join(dir, 'jwks.json') } }), issuer: ISS, cache });
      const token = await projectedToken(k, 'default', 'web');
      await v.validate(token);
      expect(cache.size).toBe(1);
      await expect(v.validate(token)).resolves.toEqual({ namespace: 'default', serviceAccount: 'web' });
      await expect(v.validate(await projectedToken(k, 'default', 'web', 'vault'))).rejects.toMatchObject({ code: 'ERR_TOKEN_AUDIENCE' });
      expect(cache.size).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('TokenCache', () => {
  test('ok/entries end at the token expiry or the TTL, whichever is first; bounded size', () => {
    let now = 1_000_000;
    const c = new TokenCache({ ttlMs: 60_000, maxEntries: 2, clock: () => now });
    const ref = { namespace: 'a', serviceAccount: 'b' };
    c.set('t1', ref, now + 10_000);
    c.set('t2', ref, now + 600_000);
    c.set('t3', ref, now + 600_000);
    expect(c.get('t1')).toBeUndefined(); // evicted (oldest)
    now += 30_000;
    expect(c.get('t2')).toEqual(ref);
    now += 31_000;
    expect(c.get('t2')).toBeUndefined(); // TTL
    c.set('expired', ref, now - 1);
    expect(c.get('expired')).toBeUndefined();
  });
});
