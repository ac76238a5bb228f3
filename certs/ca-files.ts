/**
 * Creating trust anchors and issuers on disk: where the files go, what the signing CA must
 * satisfy, and writing them so that a refused command leaves nothing behind.
 *
 * Every check (inputs, output collisions, existing files) runs before the first byte is
 * written; a failure half-way through writing removes what this run created.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createAnchor, createIssuer, type Curve } from './ca.js';
import { CertsError } from './errors.js';
import { isoTime } from './format.js';
import { checkWritable, writeFileAtomic } from './files.js';
import { loadCertificates, loadPrivateKey } from './pem-files.js';
import { isSelfSigned, readCertFacts, subjectOf } from './x509-facts.js';

const HOUR = 3_600_000;
/** Anchors: 10 years, as `linkerd install` documents for its trust anchor. */
export const DEFAULT_ANCHOR_VALIDITY_MS = 87_600 * HOUR;
/** Issuers: 1 year; they are meant to be rotated, anchors are not. */
export const DEFAULT_ISSUER_VALIDITY_MS = 8_760 * HOUR;
/**
 * NotBefore is set this far in the past so that a node whose clock runs a little behind the
 * operator's workstation does not see a brand-new CA as "not yet valid".
 */
export const BACKDATE_MS = 60_000;

/** Where the files of one CA go. */
export interface CaOutputPaths {
  certPath: string;
  keyPath: string;
  /** Only with the Kubernetes TLS Secret layout: the signing CA's certificate (`ca.crt`). */
  caPath?: string;
}

/** What the operator asked for on the command line. */
export interface OutputSelection {
  /** Directory for the default file names. Default: the current directory. */
  outDir?: string;
  /** Explicit certificate file; requires `key`, excludes `outDir`. */
  cert?: string;
  /** Explicit private key file; requires `cert`, excludes `outDir`. */
  key?: string;
  /** Write `tls.crt`, `tls.key` and `ca.crt` into `outDir`, as a kubernetes.io/tls Secret volume holds them. */
  k8sSecretLayout?: boolean;
}

export function resolveOutputPaths(sel: OutputSelection, defaults: { cert: string; key: string }): CaOutputPaths {
  const explicit = sel.cert !== undefined || sel.key !== undefined;
  if (explicit && sel.outDir !== undefined) throw optionError('--out-dir cannot be combined with --cert/--key; use one or the other');
  if (explicit && sel.k8sSecretLayout) throw optionError('--k8s-secret-layout cannot be combined with --cert/--key; it names the files itself');
  if (explicit && (sel.cert === undefined || sel.key === undefined)) throw optionError('--cert and --key go together: pass both, or use --out-dir');
  if (sel.cert !== undefined && sel.key !== undefined) {
    if (resolve(sel.cert) === resolve(sel.key)) throw optionError(`--cert and --key must be different files, both are ${sel.cert}`);
    return { certPath: sel.cert, keyPath: sel.key };
  }
  const dir = sel.outDir ?? '.';
  if (sel.k8sSecretLayout) return { certPath: join(dir, 'tls.crt'), keyPath: join(dir, 'tls.key'), caPath: join(dir, 'ca.crt') };
  return { certPath: join(dir, defaults.cert), keyPath: join(dir, defaults.key) };
}

export interface AnchorFilesConfig {
  paths: CaOutputPaths;
  /** Subject CN, e.g. `root.lanyard.cluster.local`. */
  commonName: string;
  /** Default P-256. */
  curve?: Curve;
  /** Default DEFAULT_ANCHOR_VALIDITY_MS (87600h). */
  validityMs?: number;
  /** Overwrite existing files. Default false. */
  force?: boolean;
  /** The clock. Default: the system clock. */
  now?: Date;
}

export interface IssuerFilesConfig extends Omit<AnchorFilesConfig, 'validityMs'> {
  /** The signing CA certificate, optionally followed by its own chain. */
  caCertPath: string;
  caKeyPath: string;
  /** Default DEFAULT_ISSUER_VALIDITY_MS (8760h), clamped to the CA's NotAfter. */
  validityMs?: number;
}

export interface WrittenFile {
  path: string;
  mode: number;
  contents: 'certificate' | 'certificate chain' | 'private key' | 'CA certificate';
}

export interface CaFilesResult {
  certificate: X509Certificate;
  files: WrittenFile[];
  /** Things the operator should know (validity clamped, chain appended). */
  notes: string[];
}

export async function writeAnchorFiles(cfg: AnchorFilesConfig): Promise<CaFilesResult> {
  const validityMs = checkValidity(cfg.validityMs ?? DEFAULT_ANCHOR_VALIDITY_MS);
  checkCommonName(cfg.commonName);
  const paths = [cfg.paths.certPath, cfg.paths.keyPath];
  checkWritable(paths, cfg.force);
  const now = cfg.now ?? new Date();
  const notBefore = backdated(now);
  // The lifetime counts from now; the backdating comes on top.
  const lifetimeMs = validityMs + (now.getTime() - notBefore.getTime());
  const material = await createAnchor({ commonName: cfg.commonName, curve: cfg.curve, validityMs: lifetimeMs, notBefore });
  const files = writeAll(
    [
      { path: cfg.paths.certPath, data: material.certPem, mode: 0o644, contents: 'certificate' },
      { path: cfg.paths.keyPath, data: material.keyPem, mode: 0o600, contents: 'private key' },
    ],
    cfg.force,
  );
  return { certificate: new X509Certificate(material.certPem), files, notes: [] };
}

export async function writeIssuerFiles(cfg: IssuerFilesConfig): Promise<CaFilesResult> {
  const requestedMs = checkValidity(cfg.validityMs ?? DEFAULT_ISSUER_VALIDITY_MS);
  checkCommonName(cfg.commonName);
  const caChain = loadCertificates(cfg.caCertPath, '--ca-cert');
  const caKey = loadPrivateKey(cfg.caKeyPath, '--ca-key');
  const now = cfg.now ?? new Date();
  checkSigningCa(caChain[0], caKey, now, cfg.caKeyPath);

  const outputs = [cfg.paths.certPath, cfg.paths.keyPath, ...(cfg.paths.caPath ? [cfg.paths.caPath] : [])];
  for (const out of outputs) {
    for (const [input, name] of [[cfg.caCertPath, '--ca-cert'], [cfg.caKeyPath, '--ca-key']] as const) {
      // --force must never turn "write the issuer" into "overwrite the CA it was signed with".
      if (resolve(out) === resolve(input)) throw optionError(`${out} is the ${name} input; choose another output file`);
    }
  }
  checkWritable(outputs, cfg.force);

  const notBefore = backdated(now);
  const lifetimeMs = requestedMs + (now.getTime() - notBefore.getTime());
  const material = await createIssuer({
    commonName: cfg.commonName,
    curve: cfg.curve,
    validityMs: lifetimeMs,
    notBefore,
    caCertPem: caChain[0].toString(),
    caKeyPem: caKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  });
  const certificate = new X509Certificate(material.certPem);
  const notes: string[] = [];
  if (Date.parse(certificate.validTo) < notBefore.getTime() + lifetimeMs - 1000) {
    notes.push(`validity clamped to the CA's NotAfter (${isoTime(caChain[0].validTo)}): an issuer cannot outlive its CA`);
  }
  // A proxy only holds the anchors, so an issuer below an intermediate must carry the
  // intermediates itself; a self-signed anchor is never sent.
  const intermediates = caChain.filter((c) => !isSelfSigned(c));
  if (intermediates.length) notes.push(`${cfg.paths.certPath} holds the issuer followed by ${intermediates.length} intermediate CA certificate(s) from --ca-cert`);
  const planned: PlannedFile[] = [
    {
      path: cfg.paths.certPath,
      data: material.certPem + intermediates.map((c) => c.toString()).join(''),
      mode: 0o644,
      contents: intermediates.length ? 'certificate chain' : 'certificate',
    },
    { path: cfg.paths.keyPath, data: material.keyPem, mode: 0o600, contents: 'private key' },
  ];
  if (cfg.paths.caPath) {
    const root = caChain[caChain.length - 1];
    if (!isSelfSigned(root)) notes.push(`${cfg.paths.caPath} holds ${subjectOf(root)}, which is not self-signed; it must be your trust anchor`);
    planned.push({ path: cfg.paths.caPath, data: root.toString(), mode: 0o644, contents: 'CA certificate' });
  }
  return { certificate, files: writeAll(planned, cfg.force), notes };
}

/**
 * Refuses a CA that cannot sign an issuer that proxies would accept: not a CA, a CA whose
 * key usage lacks keyCertSign, one with path length 0 (an issuer, not an anchor), one that is
 * not currently valid, or one whose key is not `key`.
 */
export function checkSigningCa(ca: X509Certificate, key: KeyObject, at: Date, keyPath = '--ca-key'): void {
  const name = subjectOf(ca);
  const facts = readCertFacts(ca);
  if (!ca.ca) throw caError(`--ca-cert: ${name} is not a CA certificate (basicConstraints CA:TRUE is missing)`);
  if (facts.keyUsage && !facts.keyUsage.includes('keyCertSign')) {
    throw caError(`--ca-cert: ${name} is a CA but its key usage lacks keyCertSign, so it cannot sign certificates`);
  }
  if (facts.pathLength === 0) {
    throw caError(`--ca-cert: ${name} has path length 0 and cannot sign another CA; pass the trust anchor, not an issuer`);
  }
  if (Date.parse(ca.validTo) <= at.getTime()) throw caError(`--ca-cert: ${name} expired at ${ca.validTo}`);
  if (Date.parse(ca.validFrom) > at.getTime()) throw caError(`--ca-cert: ${name} is not valid until ${ca.validFrom}`);
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || (curve !== 'prime256v1' && curve !== 'secp384r1')) {
    throw caError(`--ca-key: ${keyPath} must be an ECDSA P-256 or P-384 key, found ${key.asymmetricKeyType}${curve ? ` ${curve}` : ''}`);
  }
  let matches = false;
  try {
    matches = ca.checkPrivateKey(key);
  } catch {
    matches = false;
  }
  if (!matches) throw caError(`--ca-key: ${keyPath} is not the private key of --ca-cert ${name}`);
}

interface PlannedFile extends WrittenFile {
  data: string;
}

function writeAll(files: PlannedFile[], force = false): WrittenFile[] {
  const done: WrittenFile[] = [];
  try {
    for (const f of files) {
      writeFileAtomic(f.path, f.data, { force, mode: f.mode });
      done.push({ path: f.path, mode: f.mode, contents: f.contents });
    }
  } catch (e) {
    // Without --force nothing existed before this run, so removing restores the old state.
    if (!force) for (const f of done) rmSync(f.path, { force: true });
    throw e;
  }
  return done;
}

function backdated(now = new Date()): Date {
  return new Date(Math.floor((now.getTime() - BACKDATE_MS) / 1000) * 1000);
}

function checkValidity(ms: number): number {
  if (!Number.isFinite(ms) || ms < 1000) throw optionError(`--validity: expected at least 1s, got ${ms}ms`);
  return ms;
}

function checkCommonName(cn: string): void {
  if (!cn.trim() || cn.length > 64) throw optionError(`--cn: expected 1 to 64 characters, got ${JSON.stringify(cn)}`);
}

const optionError = (msg: string) => new CertsError('ERR_CERTS_OPTION', msg);
const caError = (msg: string) => new CertsError('ERR_CERTS_CA_INVALID', msg);
