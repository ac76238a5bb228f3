/**
 * The JWKS is not kept forever: against a real HTTPS JWKS server whose content the test
 * changes, a key removed from the set stops verifying within the max age (by a blocking
 * fetch past the age, or a background one from 80% of it); past the age a set that cannot
 * be refreshed is not used; and a fetch has a total deadline that a trickling server cannot
 * stretch. Time is an injected clock, so nothing sleeps.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { exportJWK, SignJWT, type JWK } from 'jose';
import { JwksSource, type JwksSourceConfig } from '../../../src/identity/validators/jwks-source.js';
import { JwksTokenValidator } from '../../../src/identity/validators/jwks-token-validator.js';
import { TokenCache } from '../../../src/identity/validators/token-cache.js';
import { createServingCert, type ServingCert } from '../../support/fake-kube-tls.js';

const ISS = 'https://kubernetes.default.svc.cluster.local';

async function signingKey(kid: string) {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk: JWK = { ...(await exportJWK(kp.publicKey)), kid, alg: 'ES256', use: 'sig' };
  const token = () => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ 'kubernetes.io': { namespace: 'default', serviceaccount: { name: 'web', uid: 'u' } } })
      .setProtectedHeader({ alg: 'ES256', kid })
      .setIssuer(ISS)
      .setSubject('system:serviceaccount:default:web')
      .setAudience(['identity.lanyard.io'])
      .setIssuedAt(now)
      .setExpirationTime(now + 3600)
      .sign(kp.privateKey);
  };
  return { jwk, token };
}

/** Polls a condition (the background fetch's effect) until it holds, or fails after 10 s. */
async function eventually(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met within 10 s');
    await new Promise((r) => setTimeout(r, 10));
  }
}

let tls: ServingCert;
let server: Server;
let url: string;
let handler: (req: IncomingMessage, res: ServerResponse) => void;
const requests: { authorization?: string }[] = [];

beforeAll(async () => {
  tls = await createServingCert('jwks.test');
  server = createServer({ cert: tls.certPem, key: tls.keyPem }, (req, res) => {
    requests.push({ authorization: req.headers.authorization });
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/openid/v1/jwks`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => {
  requests.length = 0;
});

const serve = (keys: () => JWK[] | number) => {
  handler = (_req, res) => {
    const k = keys();
    if (typeof k === 'number') {
      res.writeHead(k).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: k }));
  };
};

function validator(clock: () => number, extra: Partial<JwksSourceConfig> = {}, bearer = () => 'cluster-token') {
  const source = new JwksSource({ location: { url, ca: tls.certPem, bearerToken: async () => bearer() }, maxAgeMs: 60_000, cooldownMs: 10_000, clock, ...extra });
  return new JwksTokenValidator({ source, issuer: ISS, kind: 'jwks', cache: new TokenCache({ ttlMs: 0 }), clock });
}

test('ok/a key removed from the JWKS stops verifying once the set is older than the max age', async () => {
  const a = await signingKey('a');
  const b = await signingKey('b');
  let keys = [a.jwk, b.jwk];
  serve(() => keys);
  let now = Date.now();
  let bearer = 'token-1';
  const v = validator(() => now, {}, () => bearer);
  await v.start();
  await expect(v.validate(await a.token())).resolves.toEqual({ namespace: 'default', serviceAccount: 'web' });
  expect(requests).toEqual([{ authorization: 'Bearer token-1' }]);

  keys = [b.jwk]; // the cluster drops key a
  bearer = 'token-2'; // and the projected token file was rotated meanwhile
  now += 30_000; // within the age: the set is still used
  await expect(v.validate(await a.token())).resolves.toHaveProperty('serviceAccount', 'web');
  expect(requests).toHaveLength(1);

  now += 31_000; // past the age: fetched again before verifying
  await expect(v.validate(await a.token())).rejects.toMatchObject({ code: 'ERR_TOKEN_SIGNATURE' });
  await expect(v.validate(await b.token())).resolves.toHaveProperty('serviceAccount', 'web');
  expect(requests).toEqual([{ authorization: 'Bearer token-1' }, { authorization: 'Bearer token-2' }]);
});

test('ok/from 80% of the max age the set is refreshed in the background', async () => {
  const a = await signingKey('a');
  let keys = [a.jwk];
  serve(() => keys);
  let now = Date.now();
  const v = validator(() => now);
  await v.start();
  const token = await a.token();
  keys = [];
  now += 50_000;
  // This call still verifies against the current set, and starts a fetch without waiting for it.
  await expect(v.validate(token)).resolves.toHaveProperty('serviceAccount', 'web');
  await eventually(async () => requests.length === 2);
  await eventually(() => v.validate(token).then(() => false, () => true));
  await expect(v.validate(token)).rejects.toMatchObject({ code: 'ERR_TOKEN_SIGNATURE' });
  expect(requests).toHaveLength(2);
});

test('fail/past the max age, a set that cannot be refreshed is not used; retries wait for the cooldown', async () => {
  const a = await signingKey('a');
  let answer: JWK[] | number = [a.jwk];
  serve(() => answer);
  let now = Date.now();
  const v = validator(() => now);
  await v.start();
  answer = 503;
  now += 61_000;
  await expect(v.validate(await a.token())).rejects.toMatchObject({ code: 'ERR_VALIDATOR_UNAVAILABLE', message: expect.stringMatching(/HTTP 503, expected 200/) });
  expect(requests).toHaveLength(2);
  now += 5_000; // within the cooldown: refused at once, no new fetch
  await expect(v.validate(await a.token())).rejects.toMatchObject({ code: 'ERR_VALIDATOR_UNAVAILABLE' });
  expect(requests).toHaveLength(2);
  answer = [a.jwk];
  now += 6_000;
  await expect(v.validate(await a.token())).resolves.toHaveProperty('serviceAccount', 'web');
  expect(requests).toHaveLength(3);
});

test('fail/a server that trickles its answer hits the total deadline and the request is closed', async () => {
  let closed!: () => void;
  const socketClosed = new Promise<void>((r) => (closed = r));
  handler = (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"keys":[');
    // One byte every 50 ms: never idle for the 400 ms timeout, never finished either.
    const t = setInterval(() => res.write(' '), 50);
    req.socket.on('close', () => {
      clearInterval(t);
      closed();
    });
  };
  const source = new JwksSource({ location: { url, ca: tls.certPem }, timeoutMs: 400 });
  await expect(source.get()).rejects.toThrow(/no complete answer within 400 ms/);
  await socketClosed;
});

test('fail/a JWKS larger than the limit is refused', async () => {
  serve(() => Array.from({ length: 50 }, (_, i) => ({ kty: 'oct', kid: `k${i}`, k: 'x'.repeat(100) })));
  const source = new JwksSource({ location: { url, ca: tls.certPem }, maxBytes: 2000 });
  await expect(source.get()).rejects.toThrow(/larger than 2000 bytes/);
});

test('ok/a JWKS file is read again once older than the max age', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'jwks-'));
  try {
    const a = await signingKey('a');
    const b = await signingKey('b');
    const file = join(dir, 'jwks.json');
    writeFileSync(file, JSON.stringify({ keys: [a.jwk] }));
    let now = Date.now();
    const source = new JwksSource({ location: { file }, maxAgeMs: 60_000, clock: () => now });
    const v = new JwksTokenValidator({ source, issuer: ISS, cache: new TokenCache({ ttlMs: 0 }), clock: () => now });
    await expect(v.validate(await a.token())).resolves.toHaveProperty('serviceAccount', 'web');
    writeFileSync(file, JSON.stringify({ keys: [b.jwk] }));
    now += 61_000;
    await expect(v.validate(await a.token())).rejects.toMatchObject({ code: 'ERR_TOKEN_SIGNATURE' });
    await expect(v.validate(await b.token())).resolves.toHaveProperty('serviceAccount', 'web');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('fail/a max age of zero is refused at construction', () => {
  expect(() => new JwksSource({ location: { url: 'https://x' }, maxAgeMs: 0 })).toThrow(/max age must be positive/);
});
