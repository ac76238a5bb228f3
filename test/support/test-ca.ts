/**
 * A small in-memory PKI for tests (like smallstep's minica): an anchor, an issuer signed by
 * it, and helpers to write them where the identity service looks. Everything is generated
 * per test run; no private key is checked in.
 */
import { createPrivateKey, generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createAnchor, createIssuer, type CaMaterial, type Curve } from '../../certs/ca.js';
import { buildCsr } from '../../src/pki/csr.js';

export interface TestPki {
  anchor: CaMaterial;
  issuer: CaMaterial;
  anchorCert: X509Certificate;
  issuerCert: X509Certificate;
  issuerKey: KeyObject;
}

export interface TestPkiOptions {
  anchorCn?: string;
  issuerCn?: string;
  issuerDays?: number;
  /** The issuer's lifetime in milliseconds (wins over issuerDays): an issuer that expires during a test. */
  issuerValidityMs?: number;
  anchorDays?: number;
  curve?: Curve;
  notBefore?: Date;
  /** Sign the issuer with this anchor instead of making a new one. */
  anchor?: CaMaterial;
}

export async function createTestPki(opts: TestPkiOptions = {}): Promise<TestPki> {
  const anchor =
    opts.anchor ??
    (await createAnchor({ commonName: opts.anchorCn ?? 'root.lanyard.cluster.local', validityDays: opts.anchorDays ?? 30, curve: opts.curve, notBefore: opts.notBefore }));
  const issuer = await createIssuer({
    commonName: opts.issuerCn ?? 'identity.lanyard.cluster.local',
    caCertPem: anchor.certPem,
    caKeyPem: anchor.keyPem,
    validityDays: opts.issuerDays ?? 7,
    validityMs: opts.issuerValidityMs,
    curve: opts.curve,
    notBefore: opts.notBefore,
  });
  return {
    anchor,
    issuer,
    anchorCert: new X509Certificate(anchor.certPem),
    issuerCert: new X509Certificate(issuer.certPem),
    issuerKey: createPrivateKey(issuer.keyPem),
  };
}

/** Writes `tls.crt`, `tls.key` and `ca.crt` as a Kubernetes TLS Secret volume would. */
export function writeIssuerDir(dir: string, pki: Pick<TestPki, 'issuer' | 'anchor'>, extraAnchorsPem = ''): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tls.crt'), pki.issuer.certPem);
  writeFileSync(join(dir, 'tls.key'), pki.issuer.keyPem, { mode: 0o600 });
  writeFileSync(join(dir, 'ca.crt'), pki.anchor.certPem + extraAnchorsPem);
}

/** A fresh workload key and a CSR for `identity` (P-256 unless told otherwise). */
export function workloadCsr(identity: string, curve: 'P-256' | 'P-384' = 'P-256'): { csr: Buffer; key: KeyObject } {
  const kp = generateKeyPairSync('ec', { namedCurve: curve });
  return { csr: buildCsr(identity, kp.privateKey, kp.publicKey), key: kp.privateKey };
}
