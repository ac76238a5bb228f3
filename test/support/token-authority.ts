/**
 * A local token issuer for tests: an ES256 key, its JWKS, and projected-token-shaped JWTs
 * (via the same minting code as `lanyard token mint`), plus tokens that are wrong in
 * exactly one way for the rejection tables.
 */
import { createPrivateKey, generateKeyPairSync, randomUUID } from 'node:crypto';
import { exportJWK, SignJWT, type JSONWebKeySet } from 'jose';
import { mintDevToken, DEV_TOKEN_ISSUER } from '../../src/identity/validators/dev-token.js';
import { JwksSource } from '../../src/identity/validators/jwks-source.js';
import { JwksTokenValidator, type JwksTokenValidatorConfig } from '../../src/identity/validators/jwks-token-validator.js';
import { TokenCache } from '../../src/identity/validators/token-cache.js';

export class TokenAuthority {
  readonly kid = randomUUID().slice(0, 8);
  readonly keyPem: string;
  readonly jwks: JSONWebKeySet;
  readonly issuer: string;

  private constructor(keyPem: string, jwks: JSONWebKeySet, issuer: string) {
    this.keyPem = keyPem;
    this.jwks = jwks;
    this.issuer = issuer;
  }

  static async create(issuer = DEV_TOKEN_ISSUER): Promise<TokenAuthority> {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const keyPem = kp.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const jwk = await exportJWK(kp.publicKey);
    const ta = new TokenAuthority(keyPem, { keys: [] }, issuer);
    ta.jwks.keys.push({ ...jwk, kid: ta.kid, alg: 'ES256', use: 'sig' });
    return ta;
  }

  mint(namespace: string, serviceAccount: string, opts: { ttlMs?: number; audience?: string; now?: number } = {}): Promise<string> {
    return mintDevToken({ keyPem: this.keyPem, kid: this.kid, issuer: this.issuer, namespace, serviceAccount, ...opts });
  }

  /** A JWT with arbitrary claims signed by this authority (for malformed-claims cases). */
  signClaims(claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
    return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: this.kid, ...header }).sign(createPrivateKey(this.keyPem));
  }

  validator(overrides: Partial<JwksTokenValidatorConfig> = {}): JwksTokenValidator {
    return new JwksTokenValidator({
      source: new JwksSource({ location: { keys: this.jwks } }),
      issuer: this.issuer,
      kind: 'dev',
      cache: new TokenCache({ ttlMs: 0 }),
      ...overrides,
    });
  }

}
