/**
 * The ES256 key pair the development identity service verifies service-account tokens with
 * (and `lanyard token mint` signs them with): a PKCS#8 PEM private key and its public JWKS.
 *
 * The `kid` is the RFC 7638 JWK thumbprint, so it is derived from the key alone: the JWKS can
 * be rebuilt from the private key at any time and always names the key the same way.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { CertsError } from './errors.js';

/** A public EC JWK as published in the JWKS. */
export interface PublicEcJwk {
  kty: 'EC';
  crv: 'P-256';
  x: string;
  y: string;
  kid: string;
  alg: 'ES256';
  use: 'sig';
}

export interface Jwks {
  keys: PublicEcJwk[];
}

export interface TokenSigningKey {
  /** PKCS#8 PEM; write it 0600. */
  privateKeyPem: string;
  jwks: Jwks;
  kid: string;
}

export function createTokenSigningKey(): TokenSigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const jwks = jwksForPrivateKey(privateKey);
  return { privateKeyPem, jwks, kid: jwks.keys[0].kid };
}

/** The public JWKS of an ES256 (P-256) private key, PEM or KeyObject. */
export function jwksForPrivateKey(key: string | KeyObject, what = 'token signing key'): Jwks {
  const priv = typeof key === 'string' ? createPrivateKey(key) : key;
  if (priv.asymmetricKeyType !== 'ec' || priv.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new CertsError('ERR_CERTS_INPUT', `${what}: expected an EC P-256 key for ES256, found ${priv.asymmetricKeyType ?? 'unknown'}`);
  }
  const jwk = createPublicKey(priv).export({ format: 'jwk' }) as { x: string; y: string };
  return { keys: [{ kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y, kid: jwkThumbprint(jwk.x, jwk.y), alg: 'ES256', use: 'sig' }] };
}

/** RFC 7638: SHA-256 over the required members in lexicographic order, base64url. */
function jwkThumbprint(x: string, y: string): string {
  const canonical = JSON.stringify({ crv: 'P-256', kty: 'EC', x, y });
  return createHash('sha256').update(canonical).digest('base64url');
}
