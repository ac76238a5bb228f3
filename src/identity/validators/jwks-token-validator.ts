/**
 * Verifies projected service-account tokens locally, with jose, against the cluster's
 * signing keys (a JWKS file or URL such as `/openid/v1/jwks`): no API-server round trip per
 * Certify. Also the embedded `dev` validator, whose JWKS is the local key in `certs/dev/`.
 *
 * What a Kubernetes projected token must carry to pass:
 *   iss = the configured issuer; aud contains the configured audience; exp present and in
 *   the future and nbf (if any) in the past, both with `clockSkewMs` tolerance;
 *   sub = system:serviceaccount:<ns>:<sa>, and the `kubernetes.io` claim naming the same
 *   namespace and service account. Legacy secret-based tokens (no exp, no aud) fail.
 */
import { createLocalJWKSet, errors, jwtVerify, type JWTPayload, type JSONWebKeySet } from 'jose';
import { IdentityError } from '../errors.js';
import { parseServiceAccountUsername, type ServiceAccountRef } from '../../pki/names.js';
import type { TokenValidator } from '../token-validator.js';
import { JwksSource } from './jwks-source.js';
import { TokenCache } from './token-cache.js';

export interface JwksTokenValidatorConfig {
  source: JwksSource;
  /** Required `iss`; Kubernetes' default is `https://kubernetes.default.svc.cluster.local`. */
  issuer: string;
  /** Required audience. Default `identity.lanyard.io` (`identity.l5d.io` in Linkerd mode). */
  audience?: string;
  /** Tolerance for exp/nbf. Default 20s. */
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
    for (let attempt = 0; ; attempt++) {
      const resolver = await this.currentResolver();
      try {
        const { payload } = await jwtVerify(token, resolver, {
          issuer: this.cfg.issuer,
          audience: this.cfg.audience ?? 'identity.lanyard.io',
          clockTolerance: Math.round((this.cfg.clockSkewMs ?? 20_000) / 1000),
          algorithms: this.cfg.algorithms ?? ['RS256', 'ES256', 'ES384', 'PS256'],
          requiredClaims: ['exp', 'sub'],
          currentDate: this.cfg.clock ? new Date(this.cfg.clock()) : undefined,
        });
        return payload;
      } catch (e) {
        // An unknown kid may mean the cluster rotated its signing key: refetch once.
        if (e instanceof errors.JWKSNoMatchingKey && attempt === 0 && (await this.refetch())) continue;
        throw mapJoseError(e);
      }
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

function serviceAccountOf(payload: JWTPayload): ServiceAccountRef {
  const ref = parseServiceAccountUsername(String(payload.sub));
  if (!ref) {
    throw new IdentityError('ERR_TOKEN_NOT_SERVICE_ACCOUNT', `token: subject ${JSON.stringify(payload.sub)} is not system:serviceaccount:<namespace>:<name>`);
  }
  const k8s = payload['kubernetes.io'] as { namespace?: unknown; serviceaccount?: { name?: unknown } } | undefined;
  if (!k8s || typeof k8s !== 'object') {
    throw new IdentityError('ERR_TOKEN_NOT_SERVICE_ACCOUNT', 'token: no "kubernetes.io" claim (not a projected service-account token)');
  }
  if (k8s.namespace !== ref.namespace || k8s.serviceaccount?.name !== ref.serviceAccount) {
    throw new IdentityError('ERR_TOKEN_NOT_SERVICE_ACCOUNT', 'token: the "kubernetes.io" claim does not name the subject\'s service account');
  }
  return ref;
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
    return new IdentityError('ERR_TOKEN_MALFORMED', `token: malformed (${(e as Error).message})`);
  }
  if (e instanceof errors.JOSEError) return new IdentityError('ERR_TOKEN_INVALID', `token: ${e.message}`);
  return new IdentityError('ERR_VALIDATOR_UNAVAILABLE', `token: verification failed: ${(e as Error).message}`);
}
