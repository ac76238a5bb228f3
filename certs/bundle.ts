/**
 * Trust bundles: one PEM file of CA certificates that proxies trust. Anchor rotation is three
 * edits of this file (add the new anchor, move the issuer, drop the old anchor), so the edits
 * are careful: anchors are addressed by SHA-256 fingerprint, duplicates are skipped, order is
 * kept (first-added first), only CA certificates get in, and the last anchor does not leave
 * without `allowEmpty` — an empty bundle makes every proxy refuse every peer.
 *
 * The pure functions take and return certificates; the *File functions do the I/O, writing
 * the whole bundle atomically (0644) so a proxy reloading it never sees half a file.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { decodePem } from '../src/pki/pem.js';
import { CertsError } from './errors.js';
import { writeFileAtomic } from './files.js';
import { loadCertificates, readInput } from './pem-files.js';
import { isoTime } from './format.js';
import { colonHex, isSelfSigned, subjectOf } from './x509-facts.js';

/** A certificate offered to a bundle, with where it came from for messages. */
export interface CandidateAnchor {
  cert: X509Certificate;
  source: string;
}

export interface BundleChange {
  /** The bundle after the change, in order. */
  anchors: X509Certificate[];
  added: X509Certificate[];
  /** Offered for adding but already present. */
  alreadyPresent: X509Certificate[];
  removed: X509Certificate[];
  /** Worth telling the operator, e.g. an expired anchor was added. */
  notes: string[];
}

/** SHA-256 fingerprint of the DER, as `AB:CD:...` (what `openssl x509 -fingerprint -sha256` prints). */
export const fingerprintOf = (cert: X509Certificate): string => cert.fingerprint256;

/**
 * Accepts `AB:CD:..`, `abcd..`, `sha256:abcd..` or openssl's `sha256 Fingerprint=AB:..` (all 64
 * hex digits) and returns the canonical `AB:CD:..` form. Prefixes are not accepted: removing
 * the wrong anchor is not a mistake an operator should be able to make by typing less.
 */
export function normalizeFingerprint(value: string, what = '--fingerprint'): string {
  const hex = value.trim().replace(/^sha-?256(\s+fingerprint)?[:=]/i, '').replace(/[:\s]/g, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new CertsError('ERR_CERTS_OPTION', `${what}: expected a SHA-256 fingerprint (64 hex digits, colons optional), got ${JSON.stringify(value)}`);
  }
  return colonHex(hex);
}

/** The certificates of a PEM bundle; empty text is an empty bundle. */
export function parseBundle(text: string, path: string): X509Certificate[] {
  const blocks = decodePem(text);
  if (blocks.length === 0 && text.trim().length > 0) {
    throw new CertsError('ERR_CERTS_INPUT', `--bundle: ${path} is not a PEM file of CERTIFICATE blocks`);
  }
  const foreign = blocks.find((b) => b.label !== 'CERTIFICATE');
  if (foreign) {
    const why = foreign.label.includes('PRIVATE KEY') ? '; a private key must never be in a bundle that proxies read' : '';
    throw new CertsError('ERR_CERTS_INPUT', `--bundle: ${path} holds a ${foreign.label} block, expected only CERTIFICATE blocks${why}`);
  }
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b.der);
    } catch {
      throw new CertsError('ERR_CERTS_INPUT', `--bundle: certificate ${i + 1} in ${path} is not a valid X.509 certificate`);
    }
  });
}

export function encodeBundle(anchors: readonly X509Certificate[]): string {
  return anchors.map((a) => a.toString()).join('');
}

export function addAnchors(current: readonly X509Certificate[], candidates: readonly CandidateAnchor[], now = new Date()): BundleChange {
  const anchors = [...current];
  const seen = new Set(anchors.map(fingerprintOf));
  const change: BundleChange = { anchors, added: [], alreadyPresent: [], removed: [], notes: [] };
  for (const { cert, source } of candidates) {
    if (!cert.ca) {
      throw new CertsError('ERR_CERTS_BUNDLE', `${source}: ${subjectOf(cert)} is not a CA certificate; a trust bundle holds CA certificates only`);
    }
    const fp = fingerprintOf(cert);
    if (seen.has(fp)) {
      change.alreadyPresent.push(cert);
      continue;
    }
    seen.add(fp);
    anchors.push(cert);
    change.added.push(cert);
    if (Date.parse(cert.validTo) < now.getTime()) change.notes.push(`${subjectOf(cert)} expired at ${cert.validTo}; it will not anchor anything`);
    if (!isSelfSigned(cert)) change.notes.push(`${subjectOf(cert)} is not self-signed; proxies will trust everything it signs`);
  }
  return change;
}

export interface RemoveOptions {
  /** Allow the bundle to become empty. Default false. */
  allowEmpty?: boolean;
}

/** Removes the anchors with these fingerprints (canonical form); each must be present. */
export function removeAnchors(current: readonly X509Certificate[], fingerprints: readonly string[], opts: RemoveOptions = {}): BundleChange {
  const wanted = new Set(fingerprints);
  const present = new Set(current.map(fingerprintOf));
  for (const fp of wanted) {
    if (!present.has(fp)) throw new CertsError('ERR_CERTS_BUNDLE', `no anchor with SHA-256 fingerprint ${fp} in the bundle`);
  }
  const anchors = current.filter((a) => !wanted.has(fingerprintOf(a)));
  const removed = current.filter((a) => wanted.has(fingerprintOf(a)));
  if (anchors.length === 0 && !opts.allowEmpty) {
    throw new CertsError(
      'ERR_CERTS_BUNDLE',
      'refusing to remove the last anchor: with an empty bundle proxies trust no one (add the new anchor first, or pass --allow-empty)',
    );
  }
  return { anchors, added: [], alreadyPresent: [], removed, notes: [] };
}

/** Reads a bundle file; a missing file is an empty bundle when `missingIsEmpty`. */
export function readBundleFile(path: string, missingIsEmpty = false): X509Certificate[] {
  if (missingIsEmpty && !existsSync(path)) return [];
  return parseBundle(readInput(path, '--bundle').toString('latin1'), path);
}

export function writeBundleFile(path: string, anchors: readonly X509Certificate[]): void {
  writeFileAtomic(path, encodeBundle(anchors), { force: true, mode: 0o644 });
}

/** `bundle add`: creates the bundle if it does not exist; rewrites it only if something changed. */
export function addToBundleFile(bundlePath: string, certPaths: readonly string[], now = new Date()): BundleChange {
  if (certPaths.length === 0) throw new CertsError('ERR_CERTS_OPTION', 'bundle add: expected at least one CERT file');
  const candidates = certPaths.flatMap((p) => loadCertificates(p, 'CERT').map((cert) => ({ cert, source: p })));
  const change = addAnchors(readBundleFile(bundlePath, true), candidates, now);
  if (change.added.length) writeBundleFile(bundlePath, change.anchors);
  return change;
}

export interface RemoveSelection {
  fingerprints?: readonly string[];
  certPaths?: readonly string[];
}

/** `bundle remove`: by fingerprint or by the certificate files of the anchors to drop. */
export function removeFromBundleFile(bundlePath: string, sel: RemoveSelection, opts: RemoveOptions = {}): BundleChange {
  const byFp = (sel.fingerprints ?? []).map((f) => normalizeFingerprint(f));
  const byCert = (sel.certPaths ?? []).flatMap((p) => loadCertificates(p, 'CERT').map(fingerprintOf));
  if (byFp.length && byCert.length) throw new CertsError('ERR_CERTS_OPTION', 'bundle remove: pass --fingerprint or CERT files, not both');
  if (!byFp.length && !byCert.length) throw new CertsError('ERR_CERTS_OPTION', 'bundle remove: expected --fingerprint SHA256 or at least one CERT file');
  const change = removeAnchors(readBundleFile(bundlePath), [...byFp, ...byCert], opts);
  writeBundleFile(bundlePath, change.anchors);
  return change;
}

export interface AnchorSummary {
  index: number;
  subject: string;
  fingerprintSha256: string;
  notBefore: string;
  notAfter: string;
  status: 'valid' | 'expired' | 'not-yet-valid';
  selfSigned: boolean;
}

export function summarizeAnchors(anchors: readonly X509Certificate[], now = new Date()): AnchorSummary[] {
  return anchors.map((a, i) => ({
    index: i + 1,
    subject: subjectOf(a),
    fingerprintSha256: fingerprintOf(a),
    notBefore: isoTime(a.validFrom),
    notAfter: isoTime(a.validTo),
    status: validityStatus(a, now),
    selfSigned: isSelfSigned(a),
  }));
}

export function validityStatus(c: X509Certificate, now: Date): 'valid' | 'expired' | 'not-yet-valid' {
  if (Date.parse(c.validTo) < now.getTime()) return 'expired';
  if (Date.parse(c.validFrom) > now.getTime()) return 'not-yet-valid';
  return 'valid';
}
