/**
 * Where the issuer a rotation moves to comes from, in this order:
 *
 * 1. `--new-issuer-cert` and `--new-issuer-key`: one the operator brings;
 * 2. `issuer.crt` and `issuer.key` in `--out-dir`: made by an earlier run, or signed from its CSR;
 * 3. `--ca-key` (with `--ca-cert`, which an anchor rotation defaults to `--new-anchor`):
 *    created here into `--out-dir` (key 0600, nothing overwritten without --force);
 * 4. `--csr`: a key (0600) and `issuer.csr` written to `--out-dir`, to be signed where the
 *    anchor key lives; the step then waits for `issuer.crt` to appear beside them.
 *
 * Keys are made here and never printed. Files in --out-dir are the rotation's memory:
 * re-running finds the same new issuer instead of making another.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeIssuerFiles } from '../ca-files.js';
import type { Curve } from '../ca.js';
import { CertsError } from '../errors.js';
import { checkWritable, writeFileAtomic } from '../files.js';
import { loadCertificates, loadPrivateKey } from '../pem-files.js';
import { createIssuerCsr, opensslSignCommand } from './issuer-csr.js';

export interface NewIssuerSource {
  certPath?: string;
  keyPath?: string;
  outDir?: string;
  caCertPath?: string;
  caKeyPath?: string;
  csr?: boolean;
  /** For a created issuer or CSR. */
  commonName: string;
  curve: Curve;
  validityMs: number;
  force?: boolean;
}

/** A file this run wrote. */
export interface CreatedFile {
  path: string;
  mode: number;
  contents: string;
}

export type NewIssuer =
  | { status: 'ready'; certPem: string; keyPem: string; cert: X509Certificate; origin: string; created: CreatedFile[] }
  | { status: 'missing'; reason: string; created: CreatedFile[] };

export const outDirFiles = (dir: string) => ({ cert: join(dir, 'issuer.crt'), key: join(dir, 'issuer.key'), csr: join(dir, 'issuer.csr') });

/** The new issuer's certificate if it already exists (1 or 2 above); nothing is created. */
export function peekNewIssuer(src: NewIssuerSource): X509Certificate | null {
  const path = src.certPath ?? (src.outDir && existsSync(outDirFiles(src.outDir).cert) ? outDirFiles(src.outDir).cert : undefined);
  return path ? loadCertificates(path, src.certPath ? '--new-issuer-cert' : '--out-dir issuer.crt')[0] : null;
}

export async function resolveNewIssuer(src: NewIssuerSource, now = new Date()): Promise<NewIssuer> {
  if (!src.certPath !== !src.keyPath) throw new CertsError('ERR_CERTS_OPTION', '--new-issuer-cert and --new-issuer-key go together');
  if (src.certPath && src.keyPath) return ready(src.certPath, src.keyPath, 'given with --new-issuer-cert', []);
  if (!src.outDir) {
    return { status: 'missing', reason: 'no new issuer: pass --new-issuer-cert and --new-issuer-key, or --out-dir with --ca-key (or --csr) to make one', created: [] };
  }
  const files = outDirFiles(src.outDir);
  if (existsSync(files.cert) && existsSync(files.key)) return ready(files.cert, files.key, `found in ${src.outDir}`, []);
  if (existsSync(files.key) && existsSync(files.csr)) return awaitingSignature(files);
  if (src.caKeyPath) {
    if (!src.caCertPath) throw new CertsError('ERR_CERTS_OPTION', '--ca-key needs --ca-cert (the anchor that signs the new issuer)');
    const r = await writeIssuerFiles({
      caCertPath: src.caCertPath,
      caKeyPath: src.caKeyPath,
      paths: { certPath: files.cert, keyPath: files.key },
      commonName: src.commonName,
      curve: src.curve,
      validityMs: src.validityMs,
      force: src.force,
      now,
    });
    return ready(files.cert, files.key, `created in ${src.outDir}, signed by ${src.caCertPath}`, r.files);
  }
  if (src.csr) {
    checkWritable([files.key, files.csr], src.force);
    const { csrPem, keyPem } = await createIssuerCsr(src.commonName, src.curve);
    writeFileAtomic(files.key, keyPem, { force: src.force, mode: 0o600 });
    writeFileAtomic(files.csr, csrPem, { force: src.force, mode: 0o644 });
    const created: CreatedFile[] = [
      { path: files.key, mode: 0o600, contents: 'private key' },
      { path: files.csr, mode: 0o644, contents: 'certificate signing request' },
    ];
    return { ...awaitingSignature(files), created };
  }
  return { status: 'missing', reason: `no new issuer in ${src.outDir}: pass --ca-key (the anchor's key) to create one there, --csr to write a CSR to sign elsewhere, or --new-issuer-cert and --new-issuer-key`, created: [] };
}

function awaitingSignature(files: ReturnType<typeof outDirFiles>): NewIssuer {
  return {
    status: 'missing',
    reason: `waiting for ${files.cert}: sign ${files.csr} with the anchor where its key is kept, e.g. ${opensslSignCommand(files.csr, files.cert)}, then run this again`,
    created: [],
  };
}

function ready(certPath: string, keyPath: string, origin: string, created: CreatedFile[]): NewIssuer {
  const chain = loadCertificates(certPath, '--new-issuer-cert');
  const key = loadPrivateKey(keyPath, '--new-issuer-key');
  if (!chain[0].checkPrivateKey(key)) throw new CertsError('ERR_CERTS_INPUT', `--new-issuer-key: ${keyPath} is not the private key of ${certPath}`);
  const certPem = chain.map((c) => c.toString()).join('');
  return { status: 'ready', certPem, keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(), cert: new X509Certificate(chain[0].raw), origin, created };
}
