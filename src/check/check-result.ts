/**
 * What `lanyard check` reports: categories of checks (as `linkerd check` groups them), each
 * check a statement that holds when it passes ("issuer certificate is within its validity
 * period"), with what was found and what to do when it does not. Pure data: the checks in
 * this folder return it, format-check.ts renders it, `-o json` prints it as is.
 */

/** `ok` passed; `warn` works now but needs attention; `fail` broken now; `skip` could not be judged (the reason is in `details`). */
export type CheckStatus = 'ok' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Stable, for scripts and the README's reference: `issuer-time-valid`. */
  id: string;
  /** The statement checked, true when `status` is ok. */
  description: string;
  status: CheckStatus;
  /** What was found, one line per item (every expired anchor, every proxy lacking an anchor); why, when skipped. */
  details: string[];
  /** What to do, for a warning or a failure. */
  hint?: string;
}

export interface CheckCategory {
  /** `lanyard-identity`, `lanyard-identity-service`, `lanyard-proxies`, `lanyard-kubernetes`. */
  name: string;
  checks: CheckResult[];
}

export interface CheckReport {
  checkedAt: string;
  /** The worst status of any check (`skip` counts as ok). */
  status: 'ok' | 'warn' | 'fail';
  counts: Record<CheckStatus, number>;
  categories: CheckCategory[];
}

export const ok = (id: string, description: string, details: string[] = []): CheckResult => ({ id, description, status: 'ok', details });
export const warn = (id: string, description: string, details: string[], hint: string): CheckResult => ({ id, description, status: 'warn', details, hint });
export const fail = (id: string, description: string, details: string[], hint: string): CheckResult => ({ id, description, status: 'fail', details, hint });
export const skip = (id: string, description: string, reason: string): CheckResult => ({ id, description, status: 'skip', details: [reason] });

/** A report of these categories, judged as a whole. */
export function buildReport(categories: CheckCategory[], now: Date): CheckReport {
  const counts: Record<CheckStatus, number> = { ok: 0, warn: 0, fail: 0, skip: 0 };
  for (const c of categories) for (const r of c.checks) counts[r.status]++;
  const status = counts.fail > 0 ? 'fail' : counts.warn > 0 ? 'warn' : 'ok';
  return { checkedAt: now.toISOString(), status, counts, categories };
}

/**
 * `lanyard check`'s exit status: 0 all good, 1 warnings only, 2 at least one failure. (A usage
 * error also exits 2, but prints `lanyard: ...` on stderr and no report on stdout.)
 */
export function exitStatusOfReport(report: Pick<CheckReport, 'status'>): number {
  return report.status === 'fail' ? 2 : report.status === 'warn' ? 1 : 0;
}
