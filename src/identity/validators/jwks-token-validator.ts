/**
 * Verifies projected service-account tokens locally, with jose, against the cluster's
 * signing keys (a JWKS file or URL such as `/openid/v1/jwks`): no API-server round trip per
 * Certify. Also the embedded `dev` validator, whose JWKS is the local key in `certs/dev/`.
 *
 * What a Kubernetes projected token must carry to pass:
 *   iss = the configured issuer; aud contains the configured audience; exp present and in
 *   the future, nbf and iat (if any) not in the future, all with `clockSkewMs` tolerance;
 *   sub = system:serviceaccount:<ns>:<sa>, and the `kubernetes.io` claim naming the same
 *   namespace and service account; every one of those claims of its JSON type
 *   (token-claims.ts). Legacy secret-based tokens (no exp, no aud) fail.
 */
import { createLocalJWKSet, errors, jwtVerify, type JWTPayload, type JSONWebKeySet } from 'jose';
import { IdentityError } from '../errors.js';
import type { ServiceAccountRef } from '../../pki/names.js';
import type { TokenValidator } from '../token-validator.js';
import { JwksSource } from './jwks-source.js';
import { checkClaimTypes, checkIssuedAt, serviceAccountOf } from './token-claims.js';
import { TokenCache } from './token-cache.js';

export interface JwksTokenValidatorConfig {
  source: JwksSource;
  /** Required `iss`; Kubernetes' default is `https://kubernetes.default.svc.cluster.local`. */
  issuer: string;
  /** Required audience. Default `identity.lanyard.io` (`identity.l5d.io` in Linkerd mode). */
  audience?: string;
  /** Tolerance for exp, nbf and iat. Default 20s. */
  clockSkewMs?: number;
  /** Accepted algorithms. Default RS256, ES256, ES384, PS256 (what API servers sign with). */
  algorithms?: string[];
  /** Verified-token cache; default 60s TTL. Pass `{ ttlMs: 0 }` to disable. */
  cache?: TokenCache;
  /** Name reported as the validator kind (`jwks` or `dev`). */
  kind?: 'jwks' | 'dev';
  clock?: () => number;
}

type JwksResolver = ReturnType<typeof createLocalJWKSet>;

export class JwksTokenValidator implements TokenValidator {
  readonly kind: string;
  private resolver: JwksResolver | null = null;
  private resolverKeys: JSONWebKeySet | null = null;
  private readonly cache: TokenCache;

  constructor(private readonly cfg: JwksTokenValidatorConfig) {
    this.kind = cfg.kind ?? 'jwks';
    this.cache = cfg.cache ?? new TokenCache({ clock: cfg.clock });
  }

  async start(): Promise<void> {
    try {
      await this.currentResolver();
    } catch (e) {
      throw new Error(`${this.kind} token validator: cannot load the JWKS: ${(e as Error).message}`);
    }
  }

  async validate(token: string): Promise<ServiceAccountRef> {
    const cached = this.cache.get(token);
    if (cached) return cached;
    if (!/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/.test(token)) {
      throw new IdentityError('ERR_TOKEN_MALFORMED', 'token: not a JWT (expected three base64url parts)');
    }
    const payload = await this.verify(token);
    const ref = serviceAccountOf(payload);
    this.cache.set(token, ref, (payload.exp as number) * 1000);
    return ref;
  }

  private async verify(token: string): Promise<JWTPayload> {
    const toleranceSec = Math.round((this.cfg.clockSkewMs ?? 20_000) / 1000);
    for (let attempt = 0; ; attempt++) {
      const resolver = await this.currentResolver();
      const now = this.cfg.clock ? this.cfg.clock() : Date.now();
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, resolver, {
          issuer: this.cfg.issuer,
          audience: this.cfg.audience ?? 'identity.lanyard.io',
          clockTolerance: toleranceSec,
          algorithms: this.cfg.algorithms ?? ['RS256', 'ES256', 'ES384', 'PS256'],
          requiredClaims: ['exp', 'sub'],
          currentDate: new Date(now),
        }));
      } catch (e) {
        // An unknown kid may mean the cluster rotated its signing key: refetch once.
        if (e instanceof errors.JWKSNoMatchingKey && attempt === 0 && (await this.refetch())) continue;
        // jose refused a claim (signature already verified): a claim of the wrong type is
        // named as such rather than as, say, a wrong issuer.
        if (e instanceof errors.JWTClaimValidationFailed || e instanceof errors.JWTExpired) checkClaimTypes(e.payload);
        throw mapJoseError(e);
      }
      checkClaimTypes(payload);
      checkIssuedAt(payload, Math.floor(now / 1000), toleranceSec);
      return payload;
    }
  }

  private async refetch(): Promise<boolean> {
    try {
      return await this.cfg.source.refreshForUnknownKid();
    } catch (e) {
      throw new IdentityError('ERR_VALIDATOR_UNAVAILABLE', `token: cannot refetch the JWKS: ${(e as Error).message}`);
    }
  }

  private async currentResolver(): Promise<JwksResolver> {
    let keys: JSONWebKeySet;
    try {
      keys = await this.cfg.source.get();
    } catch (e) {
      throw new IdentityError('ERR_VALIDATOR_UNAVAILABLE', `token: cannot load the JWKS: ${(e as Error).message}`);
    }
    if (keys !== this.resolverKeys || !this.resolver) {
      this.resolver = createLocalJWKSet(keys);
      this.resolverKeys = keys;
    }
    return this.resolver;
  }
}

/** jose's failures, as our codes; the messages never include the token. */
export function mapJoseError(e: unknown): IdentityError {
  if (e instanceof IdentityError) return e;
  if (e instanceof errors.JWTExpired) return new IdentityError('ERR_TOKEN_EXPIRED', 'token: expired');
  if (e instanceof errors.JWTClaimValidationFailed) {
    switch (e.claim) {
      case 'nbf':
        return new IdentityError('ERR_TOKEN_NOT_YET_VALID', 'token: not yet valid (nbf is in the future)');
      case 'iat':
        return new IdentityError('ERR_TOKEN_NOT_YET_VALID', 'token: issued in the future (iat)');
      case 'aud':
        return new IdentityError('ERR_TOKEN_AUDIENCE', 'token: audience does not include the identity service\'s audience');
      case 'iss':
        return new IdentityError('ERR_TOKEN_ISSUER', 'token: issuer is not the configured issuer');
      default:
        return new IdentityError('ERR_TOKEN_INVALID', `token: claim ${JSON.stringify(e.claim)} ${e.reason}`);
    }
  }
  if (e instanceof errors.JWSSignatureVerificationFailed) return new IdentityError('ERR_TOKEN_SIGNATURE', 'token: signature does not verify');
  if (e instanceof errors.JWKSNoMatchingKey) return new IdentityError('ERR_TOKEN_SIGNATURE', 'token: signed by a key that is not in the JWKS');
  if (e instanceof errors.JOSEAlgNotAllowed) return new IdentityError('ERR_TOKEN_SIGNATURE', 'token: signature algorithm not allowed');
  if (e instanceof errors.JWTInvalid || e instanceof errors.JWSInvalid || e instanceof errors.JOSENotSupported) {
    return new IdentityError('ERR_TOKEN_MALFORMED', `token: malformed (${cut((e as Error).message)})`);
  }
  if (e instanceof errors.JOSEError) return new IdentityError('ERR_TOKEN_INVALID', `token: ${cut(e.message)}`);
  return new IdentityError('ERR_VALIDATOR_UNAVAILABLE', `token: verification failed: ${cut((e as Error).message)}`);
}

/** jose's messages are its own, but a few quote header values; keep them short anyway. */
const cut = (m: string): string => (m.length > 200 ? `${m.slice(0, 200)}…` : m);
