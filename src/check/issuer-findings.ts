/**
 * What is wrong with an issuer, as the identity service itself judges it: check-issuer.ts's
 * typed refusals, collected rather than stopping at the first. `checkIssuer` throws on the
 * first problem; to report the ones behind it, the material is judged again with that
 * problem set aside where that is sound:
 *
 * - expired or not yet valid: judged again at the edge of the issuer's own validity closest
 *   to now, so the chain is still checked (a chain broken *now* by an expired anchor is
 *   still reported: the first judgement at `now` reaches the chain whenever the issuer
 *   itself is valid);
 * - no usable trust bundle: judged again against the issuer itself as the only anchor, so the
 *   CA flag, key and validity are checked; the chain is then unknown.
 *
 * Any other refusal stops the walk: what comes after it in checkIssuer's order depends on it.
 */
import { X509Certificate } from 'node:crypto';
import { checkIssuer, IssuerError, type IssuerErrorCode, type IssuerMaterial } from '../identity/check-issuer.js';
import { PkiError } from '../pki/errors.js';
import { certificatesFromPem } from '../pki/pem.js';

/** checkIssuer's order: a code later than the one the walk stopped at was not judged. */
export const ISSUER_CHECK_ORDER: readonly IssuerErrorCode[] = [
  'ERR_ISSUER_BUNDLE',
  'ERR_ISSUER_CERT',
  'ERR_ISSUER_KEY',
  'ERR_ISSUER_NOT_CA',
  'ERR_ISSUER_KEY_MISMATCH',
  'ERR_ISSUER_EXPIRED',
  'ERR_ISSUER_NOT_YET_VALID',
  'ERR_ISSUER_CHAIN',
];

export interface IssuerFindings {
  /** Each refusal found, with checkIssuer's message. */
  found: Map<IssuerErrorCode | 'ERR_ISSUER_ALGORITHM', string>;
  /** The code the walk stopped at (its successors were not judged), or null if it reached the end. */
  stoppedAt: IssuerErrorCode | 'ERR_ISSUER_ALGORITHM' | null;
  /** False when the chain could not be judged (no usable bundle, or the walk stopped before it). */
  chainJudged: boolean;
}

export function issuerFindings(m: IssuerMaterial, now: Date): IssuerFindings {
  const found: IssuerFindings['found'] = new Map();
  let material = m;
  let at = now;
  let chainJudged = true;
  for (let round = 0; round < ISSUER_CHECK_ORDER.length; round++) {
    try {
      checkIssuer(material, at);
      return { found, stoppedAt: null, chainJudged };
    } catch (e) {
      // The leaf signer, built last, refuses a key it cannot sign with (a PkiError, not an
      // IssuerError): everything before it passed.
      if (e instanceof PkiError) return stop(found, 'ERR_ISSUER_ALGORITHM', e.message, chainJudged);
      if (!(e instanceof IssuerError)) throw e;
      if (found.has(e.code)) return stop(found, e.code, e.message, false);
      found.set(e.code, e.message);
      const next = setAside(e.code, material, at);
      if (!next) return { found, stoppedAt: e.code, chainJudged: false };
      if (e.code === 'ERR_ISSUER_BUNDLE') chainJudged = false;
      ({ material, at } = next);
    }
  }
  return { found, stoppedAt: null, chainJudged };
}

function stop(found: IssuerFindings['found'], code: IssuerErrorCode | 'ERR_ISSUER_ALGORITHM', message: string, chainJudged: boolean): IssuerFindings {
  if (!found.has(code)) found.set(code, message);
  return { found, stoppedAt: code, chainJudged };
}

/** The material and time to judge again with `code` set aside, or null when nothing after it can be judged. */
function setAside(code: IssuerErrorCode, m: IssuerMaterial, at: Date): { material: IssuerMaterial; at: Date } | null {
  const cert = firstCertificate(m.certPem);
  if (!cert) return null;
  if (code === 'ERR_ISSUER_BUNDLE') return { material: { ...m, bundlePem: cert.toString() }, at };
  // The instant of the issuer's validity closest to `at`, when its anchors are most likely valid too.
  if (code === 'ERR_ISSUER_EXPIRED') return { material: m, at: new Date(Date.parse(cert.validTo) - 1000) };
  if (code === 'ERR_ISSUER_NOT_YET_VALID') return { material: m, at: new Date(Date.parse(cert.validFrom) + 1000) };
  return null;
}

function firstCertificate(pem: string): X509Certificate | null {
  try {
    return new X509Certificate(certificatesFromPem(pem, 'issuer certificate')[0]);
  } catch {
    return null;
  }
}

/** Whether the walk judged `code` (it did unless it stopped at an earlier one). */
export function judged(f: IssuerFindings, code: IssuerErrorCode): boolean {
  if (f.found.has(code) || f.stoppedAt === null) return true;
  if (f.stoppedAt === 'ERR_ISSUER_ALGORITHM') return true;
  return ISSUER_CHECK_ORDER.indexOf(code) < ISSUER_CHECK_ORDER.indexOf(f.stoppedAt);
}
