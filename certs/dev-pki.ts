/**
 * The development PKI `npm start` runs on: a trust anchor, an issuer signed by it and the
 * ES256 key the development identity service verifies tokens with, all in one git-ignored
 * directory (`certs/dev/`). Created on first start, then left alone, so restarting the
 * service never invalidates certificates or tokens handed out before.
 *
 * Two exceptions to "left alone", both cases where the existing files cannot work: an issuer
 * that has expired or expires within a day is re-issued from the dev anchor, and a half
 * pair (a certificate without its key) is created again. Anything that would need the
 * anchor replaced is refused with the advice to delete the directory.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TrustDomain } from '../src/pki/names.js';
import { writeAnchorFiles, writeIssuerFiles } from './ca-files.js';
import { CertsError } from './errors.js';
import { writePublic, writeSecret } from './files.js';
import { createTokenSigningKey, jwksForPrivateKey } from './token-key.js';

export interface DevPkiConfig {
  /** Default `cluster.local`. */
  trustDomain?: string;
  /** Default `lanyard`. */
  controlNamespace?: string;
  /** The clock. Default: the system clock. */
  now?: Date;
}

export interface DevPkiPaths {
  /** The trust anchor (`ca.crt`): what proxies and clients trust. */
  caPath: string;
  caKeyPath: string;
  issuerCertPath: string;
  issuerKeyPath: string;
  /** ES256 private key, PKCS#8 PEM, 0600. */
  tokenKeyPath: string;
  /** `{"keys":[{kty,crv,x,y,kid,alg,use}]}`, 0644. */
  tokenPublicJwksPath: string;
}

export interface DevPkiResult extends DevPkiPaths {
  /** Whether anything was written. */
  created: boolean;
  /** The files written by this call. */
  createdFiles: string[];
}

/** The issuer is renewed when it has less than this left: the default leaf lifetime. */
export const DEV_ISSUER_RENEW_BEFORE_MS = 24 * 3_600_000;

export function devPkiPaths(dir: string): DevPkiPaths {
  return {
    caPath: join(dir, 'ca.crt'),
    caKeyPath: join(dir, 'ca.key'),
    issuerCertPath: join(dir, 'issuer.crt'),
    issuerKeyPath: join(dir, 'issuer.key'),
    tokenKeyPath: join(dir, 'token-signing.key'),
    tokenPublicJwksPath: join(dir, 'token-signing.jwks.json'),
  };
}

/**
 * The entries of `dir` that are not part of a development PKI (hidden entries aside: the
 * lock and interrupted atomic writes). Empty for a missing, empty or development directory;
 * the CLI creates a development PKI only where this is empty (or in the default directory),
 * so the anchor's and issuer's keys never land beside an operator's own files.
 */
export function foreignFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) return [dir];
  const ours = new Set(Object.values(devPkiPaths('')));
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.') && !ours.has(name))
    .sort();
}

export async function ensureDevPki(dir: string, opts: DevPkiConfig = {}): Promise<DevPkiResult> {
  const paths = devPkiPaths(dir);
  const now = opts.now ?? new Date();
  if (isComplete(paths, now)) return { ...paths, created: false, createdFiles: [] };
  const td = new TrustDomain(opts.trustDomain, opts.controlNamespace);
  // 0700: the directory holds the anchor's key.
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const release = await lock(join(dir, '.ensure.lock'));
  try {
    const createdFiles = await complete(dir, paths, td, now);
    return { ...paths, created: createdFiles.length > 0, createdFiles };
  } finally {
    release();
  }
}

function isComplete(p: DevPkiPaths, now: Date): boolean {
  return Object.values(p).every((f) => existsSync(f)) && issuerUsable(p.issuerCertPath, now);
}

async function complete(dir: string, p: DevPkiPaths, td: TrustDomain, now: Date): Promise<string[]> {
  const created: string[] = [];
  if (!existsSync(p.caPath)) {
    if (existsSync(p.issuerCertPath)) throw devError(`${dir}: ${p.issuerCertPath} exists but the anchor ${p.caPath} does not; delete ${dir} to start over`);
    await writeAnchorFiles({ paths: { certPath: p.caPath, keyPath: p.caKeyPath }, commonName: `root.${td.controlNamespace}.${td.domain}`, force: true, now });
    created.push(p.caPath, p.caKeyPath);
  }
  if (!existsSync(p.issuerCertPath) || !existsSync(p.issuerKeyPath) || !issuerUsable(p.issuerCertPath, now)) {
    if (!existsSync(p.caKeyPath)) throw devError(`${dir}: the issuer must be (re)created but ${p.caKeyPath} is missing; delete ${dir} to start over`);
    try {
      await writeIssuerFiles({
        caCertPath: p.caPath,
        caKeyPath: p.caKeyPath,
        paths: { certPath: p.issuerCertPath, keyPath: p.issuerKeyPath },
        commonName: `identity.${td.controlNamespace}.${td.domain}`,
        force: true,
        now,
      });
    } catch (e) {
      if (e instanceof CertsError) throw devError(`${dir}: cannot create the development issuer (${e.message}); delete ${dir} to start over`);
      throw e;
    }
    created.push(p.issuerCertPath, p.issuerKeyPath);
  }
  if (!existsSync(p.tokenKeyPath)) {
    const k = createTokenSigningKey();
    writeSecret(p.tokenKeyPath, k.privateKeyPem, true);
    writePublic(p.tokenPublicJwksPath, JSON.stringify(k.jwks, null, 2) + '\n', true);
    created.push(p.tokenKeyPath, p.tokenPublicJwksPath);
  } else if (!existsSync(p.tokenPublicJwksPath)) {
    const jwks = jwksForPrivateKey(readFileSync(p.tokenKeyPath, 'utf8'), p.tokenKeyPath);
    writePublic(p.tokenPublicJwksPath, JSON.stringify(jwks, null, 2) + '\n', true);
    created.push(p.tokenPublicJwksPath);
  }
  return created;
}

function issuerUsable(path: string, now: Date): boolean {
  try {
    const cert = new X509Certificate(readFileSync(path));
    return Date.parse(cert.validTo) - now.getTime() > DEV_ISSUER_RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

const LOCK_STALE_MS = 30_000;
const LOCK_WAIT_MS = 20_000;

/**
 * A directory as a lock (mkdir is atomic), so two processes starting at once (the demo and
 * the identity service, say) do not both create an anchor and leave mismatched halves.
 */
async function lock(path: string): Promise<() => void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      mkdirSync(path);
      return () => removeLock(path);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (isStale(path) || Date.now() > deadline) {
      // A crashed holder leaves its lock behind; taking it over is safe because every
      // write is atomic and the work is re-checked under the lock.
      removeLock(path);
      continue;
    }
    await sleep(50);
  }
}

function removeLock(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // already gone: another process took over a stale lock
  }
}

function isStale(path: string): boolean {
  try {
    return Date.now() - statSync(path).mtimeMs > LOCK_STALE_MS;
  } catch {
    return false;
  }
}

const devError = (msg: string) => new CertsError('ERR_CERTS_DEV_PKI', msg);
