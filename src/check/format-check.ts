/**
 * `lanyard check`'s table for people, in `linkerd check`'s shape: one block per category,
 * one line per check (✓ passed, ‼ warning, × failure, - skipped with the reason), what was
 * found indented under a problem, then a `hint:` saying what to do, and a verdict line.
 */
import type { CheckReport, CheckResult, CheckStatus } from './check-result.js';

const MARK: Record<CheckStatus, string> = { ok: '✓', warn: '‼', fail: '×', skip: '-' };

export function formatCheckReport(r: CheckReport, o: { verbose?: boolean } = {}): string {
  const out: string[] = [];
  for (const c of r.categories) {
    out.push(c.name, '-'.repeat(c.name.length));
    for (const check of c.checks) out.push(...formatCheck(check, o.verbose ?? false));
    out.push('');
  }
  out.push(verdictLine(r));
  return out.join('\n');
}

function formatCheck(c: CheckResult, verbose: boolean): string[] {
  if (c.status === 'skip') return [`${MARK.skip} ${c.description} (skipped: ${c.details.join('; ')})`];
  const lines = [`${MARK[c.status]} ${c.description}`];
  if (c.status !== 'ok' || verbose) lines.push(...c.details.map((d) => `    ${d}`));
  if (c.hint && c.status !== 'ok') lines.push(`    hint: ${c.hint}`);
  return lines;
}

function verdictLine(r: CheckReport): string {
  const n = (k: number, word: string) => `${k} ${word}${k === 1 ? '' : 's'}`;
  const parts = [r.counts.fail ? n(r.counts.fail, 'failure') : '', r.counts.warn ? n(r.counts.warn, 'warning') : ''].filter(Boolean);
  return `Status check results are ${MARK[r.status]}${parts.length ? ` (${parts.join(', ')})` : ''}`;
}
