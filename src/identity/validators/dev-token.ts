/**
 * Tokens for the embedded `dev` validator, shaped like Kubernetes projected service-account
 * tokens (same claims), signed with the local key in `certs/dev/`.
 */
import { randomUUID, createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';

/** The `iss` of development tokens; never a real cluster's issuer. */
export const DEV_TOKEN_ISSUER = 'lanyard-dev';

export interface DevTokenConfig {
  /** PKCS#8 PEM of the ES256 signing key. */
  keyPem: string;
  /** The key id published in the dev JWKS. */
  kid: string;
  namespace: string;
  serviceAccount: string;
  /** Default `identity.lanyard.io`. */
  audience?: string;
  /** Default 1h. */
  ttlMs?: number;
  /** Optional pod the token is bound to, as in a projected token. */
  podName?: string;
  /** Default DEV_TOKEN_ISSUER. */
  issuer?: string;
  /** Issue time; default now. */
  now?: number;
}

export async function mintDevToken(cfg: DevTokenConfig): Promise<string> {
  const now = Math.floor((cfg.now ?? Date.now()) / 1000);
  const ttl = Math.round((cfg.ttlMs ?? 3_600_000) / 1000);
  const k8s: Record<string, unknown> = {
    namespace: cfg.namespace,
    serviceaccount: { name: cfg.serviceAccount, uid: randomUUID() },
  };
  if (cfg.podName) k8s.pod = { name: cfg.podName, uid: randomUUID() };
  return new SignJWT({ 'kubernetes.io': k8s })
    .setProtectedHeader({ alg: 'ES256', kid: cfg.kid, typ: 'JWT' })
    .setIssuer(cfg.issuer ?? DEV_TOKEN_ISSUER)
    .setSubject(`system:serviceaccount:${cfg.namespace}:${cfg.serviceAccount}`)
    .setAudience([cfg.audience ?? 'identity.lanyard.io'])
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + ttl)
    .setJti(randomUUID())
    .sign(createPrivateKey(cfg.keyPem));
}
