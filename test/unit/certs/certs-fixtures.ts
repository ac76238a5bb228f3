/**
 * Certificates for the certs/ unit tests, made per run with the project's own CA code and
 * leaf signer (no key is checked in), plus a temp-dir helper that always cleans up.
 */
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAnchor, createIssuer, type CaMaterial } from '../../../certs/ca.js';
import { ecPublicKeyOf } from '../../../src/pki/ec-key.js';
import { LeafSigner } from '../../../src/pki/leaf-signer.js';

const DAY = 86_400_000;

export interface Ca extends CaMaterial {
  cert: X509Certificate;
}

export async function anchor(cn = 'root.lanyard.cluster.local', opts: { notBefore?: Date; days?: number } = {}): Promise<Ca> {
  const m = await createAnchor({ commonName: cn, validityDays: opts.days ?? 30, notBefore: opts.notBefore });
  return { ...m, cert: new X509Certificate(m.certPem) };
}

export async function issuer(parent: CaMaterial, cn = 'identity.lanyard.cluster.local', opts: { notBefore?: Date; days?: number } = {}): Promise<Ca> {
  const m = await createIssuer({ commonName: cn, caCertPem: parent.certPem, caKeyPem: parent.keyPem, validityDays: opts.days ?? 7, notBefore: opts.notBefore });
  return { ...m, cert: new X509Certificate(m.certPem) };
}

/** A Lanyard workload leaf for default/web, signed by `by`. */
export async function leaf(by: CaMaterial, opts: { notBefore?: Date; hours?: number } = {}): Promise<{ cert: X509Certificate; keyPem: string }> {
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = new LeafSigner(new X509Certificate(by.certPem).raw, createPrivateKey(by.keyPem));
  const notBefore = opts.notBefore ?? new Date(Date.now() - 20_000);
  const { der } = await signer.sign({
    key: ecPublicKeyOf(kp.publicKey),
    dnsName: 'web.default.serviceaccount.identity.lanyard.cluster.local',
    spiffeId: 'spiffe://cluster.local/ns/default/sa/web',
    notBefore,
    notAfter: new Date(notBefore.getTime() + (opts.hours ?? 24) * 3_600_000),
  });
  return { cert: new X509Certificate(der), keyPem: kp.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
}

export const daysAgo = (n: number): Date => new Date(Math.floor((Date.now() - n * DAY) / 1000) * 1000);

/** Runs `fn` in a fresh temporary directory and removes it afterwards, pass or fail. */
export async function inTempDir<T>(fn: (dir: string) => Promise<T> | T): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-certs-'));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
