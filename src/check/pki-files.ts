/**
 * Reads an issuer directory and a trust bundle from disk the way the identity service does
 * (src/identity/issuer-files.ts: the same file names, a Secret or ConfigMap volume's `..data`
 * link resolved once), but each on its own: `lanyard check` reports an issuer whose bundle is
 * missing, where the identity service would only refuse to start.
 */
import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Sourced } from './check-pki.js';

/** Certificate and key names an issuer directory may use, in the identity service's order. */
export const ISSUER_PAIRS: readonly (readonly [string, string])[] = [
  ['tls.crt', 'tls.key'],
  ['crt.pem', 'key.pem'],
  ['issuer.crt', 'issuer.key'],
];
/** Names of a bundle inside a directory. */
export const BUNDLE_NAMES = ['ca.crt', 'ca-bundle.crt'] as const;

/** `dir/..data` resolved when the directory is a Kubernetes volume, else `dir`. */
export function resolveVolumeDir(dir: string): string {
  const data = join(dir, '..data');
  return existsSync(data) ? realpathSync(data) : dir;
}

export interface IssuerFilesFound {
  certPath: string;
  keyPath: string;
}

/** The first certificate/key pair present in `dir` (volume-resolved), or null. */
export function findIssuerPair(dir: string): IssuerFilesFound | null {
  const real = resolveVolumeDir(dir);
  for (const [c, k] of ISSUER_PAIRS) if (existsSync(join(real, c))) return { certPath: join(real, c), keyPath: join(real, k) };
  return null;
}

/** Where the bundle is: `trustAnchors` (a file, or a directory holding ca.crt or ca-bundle.crt), else the issuer directory's. */
export function findBundle(trustAnchors: string | undefined, issuerDir: string | undefined): string | null {
  const dir = trustAnchors ?? issuerDir;
  if (dir === undefined) return null;
  if (trustAnchors !== undefined && existsSync(trustAnchors) && !statSync(trustAnchors).isDirectory()) return trustAnchors;
  if (!existsSync(dir)) return trustAnchors ?? null;
  const real = resolveVolumeDir(dir);
  for (const name of BUNDLE_NAMES) if (existsSync(join(real, name))) return join(real, name);
  return trustAnchors !== undefined ? join(dir, BUNDLE_NAMES[0]) : null;
}

function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

function why(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : (err.code ?? err.message);
}

export function readBundleSource(path: string, label: string): Sourced<{ pem: string }> {
  const source = `${label} ${path}`;
  try {
    return { ok: true, source, pem: readText(path) };
  } catch (e) {
    return { ok: false, source, error: `cannot read: ${why(e)}` };
  }
}

export function readIssuerSource(dir: string, label = '--issuer'): Sourced<{ certPem: string; keyPem: string }> {
  const source = `${label} ${dir}`;
  if (!existsSync(dir)) return { ok: false, source, error: 'no such directory' };
  const pair = findIssuerPair(dir);
  if (!pair) return { ok: false, source, error: `no issuer certificate (looked for ${ISSUER_PAIRS.map((p) => p[0]).join(', ')})` };
  try {
    return { ok: true, source, certPem: readText(pair.certPath), keyPem: readText(pair.keyPath) };
  } catch (e) {
    return { ok: false, source, error: `cannot read ${pair.certPath} and ${pair.keyPath}: ${why(e)}` };
  }
}
