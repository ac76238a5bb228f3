/**
 * When a certificate is "close to expiry", the same everywhere: `lanyard check` warns about an
 * anchor or issuer inside this window, and the Prometheus alert rules
 * (src/telemetry/prometheus/lanyard-alerts.rules.yaml: `< 60 * 86400`) fire inside the same 60
 * days, as Linkerd's `issuer cert is valid for at least 60 days` does. Workload leaves live a
 * day and renew at 70% of their life, so for them "near expiry" is a share of the lifetime.
 */
import type { X509Certificate } from 'node:crypto';

// How times and spans are shown: the same words as `lanyard certs inspect`.
export { formatSpan as span, isoTime } from '../../certs/format.js';

export const DAY_MS = 86_400_000;
/** Default of `--expiry-warning`. */
export const DEFAULT_EXPIRY_WARNING_MS = 60 * DAY_MS;
/**
 * A leaf this close to its end (as a share of its lifetime) has missed its renewal: proxies
 * renew at 70% of the lifetime (less jitter), so one still holding its leaf at 80% has failed
 * at least one refresh.
 */
export const LEAF_RENEWAL_OVERDUE_FRACTION = 0.8;

export type Validity = 'valid' | 'expired' | 'not-yet-valid';

export function validityAt(c: Pick<X509Certificate, 'validFrom' | 'validTo'>, now: Date): Validity {
  if (Date.parse(c.validTo) < now.getTime()) return 'expired';
  if (Date.parse(c.validFrom) > now.getTime()) return 'not-yet-valid';
  return 'valid';
}

export function remainingMs(c: Pick<X509Certificate, 'validTo'>, now: Date): number {
  return Date.parse(c.validTo) - now.getTime();
}
