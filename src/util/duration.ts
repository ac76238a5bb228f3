/**
 * Durations, in the grammar of Go's time.ParseDuration that Kubernetes and Linkerd use, plus
 * `d` for days (certificate validity is counted in days):
 *
 *   duration := "0" | term { term }
 *   term     := decimal unit          decimal := digits [ "." digits ]
 *   unit     := "ms" | "s" | "m" | "h" | "d"
 *
 * `500ms`, `10s`, `1h30m`, `1.5h`, `365d`. A bare number other than 0 is refused: `10` could
 * be seconds or milliseconds, and a wrong guess turns a timeout into a hang. Signs and
 * spaces inside are refused too. The result is whole milliseconds.
 */
import { quote, ValueError } from './value-error.js';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const TERM = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;
/** A century: anything longer is a typo, and it keeps every result a safe integer. */
export const MAX_DURATION_MS = 100 * 365 * UNIT_MS.d;

export function parseDuration(text: string): number {
  const v = text.trim();
  if (v === '0') return 0;
  const bad = (why: string) => new ValueError(`${why}; expected a duration such as 500ms, 10s, 1h30m or 30d, got ${quote(text)}`);
  if (v === '') throw bad('empty');
  if (/^\d+(\.\d+)?$/.test(v)) throw bad('a number needs a unit (ms, s, m, h or d)');
  let total = 0;
  TERM.lastIndex = 0;
  while (TERM.lastIndex < v.length) {
    const at = TERM.lastIndex;
    const m = TERM.exec(v);
    if (!m) throw bad(`unexpected ${quote(v.slice(at, at + 10))}`);
    total += Number(m[1]) * UNIT_MS[m[2]];
  }
  if (total > MAX_DURATION_MS) throw bad('longer than 100 years');
  return Math.round(total);
}

/** The shortest exact form: `1h30m`, `250ms`, `0`. parseDuration(formatDuration(x)) === x. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0';
  let rest = Math.round(ms);
  let out = '';
  for (const [unit, size] of [['d', UNIT_MS.d], ['h', UNIT_MS.h], ['m', UNIT_MS.m], ['s', UNIT_MS.s]] as const) {
    if (rest >= size) {
      out += `${Math.floor(rest / size)}${unit}`;
      rest %= size;
    }
  }
  return rest ? `${out}${rest}ms` : out;
}

/**
 * setTimeout fires at once for delays past 2^31−1 ms (about 24.8 days), so a 30-day wait
 * would spin. Every timer built from an operator's duration goes through this.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
export function timerDelay(ms: number): number {
  return Math.max(0, Math.min(ms, MAX_TIMER_MS));
}
