/**
 * The claims of a projected service-account token, judged after jose has verified the
 * signature. Pure; a table test covers every branch.
 *
 * Every claim we use must have its JSON type, checked before it is used: a `sub` that is an
 * array once became, through String(), the very string it contained. `iat` is checked here
 * because jose checks it only when `maxTokenAge` is set.
 */
import type { JWTPayload } from 'jose';
import { parseServiceAccountUsername, type ServiceAccountRef } from '../../pki/names.js';
import { quote } from '../../util/value-error.js';
import { IdentityError } from '../errors.js';

const typeOf = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `a ${typeof v}`);
const malformed = (claim: string, expected: string, v: unknown) =>
  new IdentityError('ERR_TOKEN_MALFORMED', `token: claim ${claim} must be ${expected}, found ${typeOf(v)}`);

const isNumericDate = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Throws ERR_TOKEN_MALFORMED for the first claim we use that has the wrong JSON type. */
export function checkClaimTypes(p: Record<string, unknown>): void {
  for (const claim of ['iss', 'sub'] as const) {
    if (claim in p && typeof p[claim] !== 'string') throw malformed(`"${claim}"`, 'a string', p[claim]);
  }
  if ('aud' in p && typeof p.aud !== 'string' && !(Array.isArray(p.aud) && p.aud.every((a) => typeof a === 'string'))) {
    throw malformed('"aud"', 'a string or an array of strings', p.aud);
  }
  for (const claim of ['exp', 'nbf', 'iat'] as const) {
    if (claim in p && !isNumericDate(p[claim])) throw malformed(`"${claim}"`, 'a finite number (NumericDate)', p[claim]);
  }
  if (!('kubernetes.io' in p)) return;
  const k8s = p['kubernetes.io'];
  if (!isObject(k8s)) throw malformed('"kubernetes.io"', 'an object', k8s);
  if ('namespace' in k8s && typeof k8s.namespace !== 'string') throw malformed('"kubernetes.io".namespace', 'a string', k8s.namespace);
  if ('serviceaccount' in k8s) {
    const sa = k8s.serviceaccount;
    if (!isObject(sa)) throw malformed('"kubernetes.io".serviceaccount', 'an object', sa);
    if ('name' in sa && typeof sa.name !== 'string') throw malformed('"kubernetes.io".serviceaccount.name', 'a string', sa.name);
  }
}

/** `iat` more than `toleranceSec` after `nowSec` is ERR_TOKEN_NOT_YET_VALID (jose checks nbf and exp). */
export function checkIssuedAt(p: JWTPayload, nowSec: number, toleranceSec: number): void {
  if (typeof p.iat === 'number' && p.iat > nowSec + toleranceSec) {
    throw new IdentityError('ERR_TOKEN_NOT_YET_VALID', 'token: issued in the future (iat is later than now plus the clock skew)');
  }
}

/** The service account a type-checked payload names, with `kubernetes.io` agreeing with `sub`. */
export function serviceAccountOf(p: JWTPayload): ServiceAccountRef {
  const sub = p.sub;
  if (typeof sub !== 'string') throw malformed('"sub"', 'a string', sub);
  const ref = parseServiceAccountUsername(sub);
  if (!ref) {
    throw new IdentityError('ERR_TOKEN_NOT_SERVICE_ACCOUNT', `token: subject ${quote(sub)} is not system:serviceaccount:<namespace>:<name>`);
  }
  const k8s = p['kubernetes.io'];
  if (!isObject(k8s)) {
    throw new IdentityError('ERR_TOKEN_NOT_SERVICE_ACCOUNT', 'token: no "kubernetes.io" claim (not a projected service-account token)');
  }
  const sa = isObject(k8s.serviceaccount) ? k8s.serviceaccount : {};
  if (k8s.namespace !== ref.namespace || sa.name !== ref.serviceAccount) {
    throw new IdentityError('ERR_TOKEN_NOT_SERVICE_ACCOUNT', 'token: the "kubernetes.io" claim does not name the subject\'s service account');
  }
  return ref;
}
