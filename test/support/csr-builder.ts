/**
 * CSRs that are wrong in exactly one way, built with @peculiar/x509 (independent of our own
 * DER code, so the parser is tested against another encoder).
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

export type KeyKind = 'P-256' | 'P-384' | 'P-521' | 'RSA' | 'Ed25519';

export interface CsrSpec {
  key?: KeyKind;
  /** Subject CN; omitted when undefined. */
  cn?: string;
  dns?: string[];
  ip?: string[];
  uri?: string[];
  email?: string[];
}

const ALGS: Record<KeyKind, { gen: Record<string, unknown>; sign: Record<string, unknown> }> = {
  'P-256': { gen: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } },
  'P-384': { gen: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } },
  'P-521': { gen: { name: 'ECDSA', namedCurve: 'P-521' }, sign: { name: 'ECDSA', hash: 'SHA-512' } },
  RSA: {
    gen: { name: 'RSASSA-PKCS1-v1_5', modulusLength: 2048, publicExponent: new Uint8Array([1, 0, 1]), hash: 'SHA-256' },
    sign: { name: 'RSASSA-PKCS1-v1_5' },
  },
  Ed25519: { gen: { name: 'Ed25519' }, sign: { name: 'Ed25519' } },
};

export async function buildTestCsr(spec: CsrSpec): Promise<Buffer> {
  const alg = ALGS[spec.key ?? 'P-256'];
  const crypto = webcrypto as unknown as Crypto;
  const keys = (await crypto.subtle.generateKey(alg.gen as unknown as AlgorithmIdentifier, true, ['sign', 'verify'])) as CryptoKeyPair;
  const names: x509.JsonGeneralName[] = [
    ...(spec.dns ?? []).map((v) => ({ type: 'dns' as const, value: v })),
    ...(spec.ip ?? []).map((v) => ({ type: 'ip' as const, value: v })),
    ...(spec.uri ?? []).map((v) => ({ type: 'url' as const, value: v })),
    ...(spec.email ?? []).map((v) => ({ type: 'email' as const, value: v })),
  ];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create(
    {
      name: spec.cn === undefined ? [] : [{ CN: [spec.cn] }],
      keys,
      signingAlgorithm: alg.sign as unknown as Algorithm,
      extensions: names.length ? [new x509.SubjectAlternativeNameExtension(names)] : [],
    },
    crypto,
  );
  return Buffer.from(csr.rawData);
}

type Crypto = webcrypto.Crypto;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type AlgorithmIdentifier = webcrypto.AlgorithmIdentifier;
type Algorithm = webcrypto.Algorithm;
