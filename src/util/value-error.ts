/**
 * The one grammar for values that operators type: every flag, environment variable and
 * config-file field goes through the parsers in this folder. A parser throws a ValueError
 * that says what was expected and what was given; `named()` prefixes it with where the value
 * came from, so that an error always names the flag *and* its variable.
 */

/** A value that does not fit its grammar. `message` names the source once `named()` has run. */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ValueError';
  }
}

/** Where a value came from: a flag, its environment variable, or a field of a file. */
export interface ValueSource {
  flag?: string;
  env?: string;
  /** A field inside a file or an inline document, e.g. `routes[2].upstream`. */
  field?: string;
}

/** `--addr (env LANYARD_IDENTITY_ADDR)`, `LANYARD_PROXY_INBOUND_ADDR`, `routes[0].listen`. */
export function describeSource(src: ValueSource | string): string {
  if (typeof src === 'string') return src;
  const parts: string[] = [];
  if (src.flag) parts.push(src.flag);
  if (src.env) parts.push(src.flag ? `(env ${src.env})` : src.env);
  if (src.field) parts.push(parts.length ? `field ${src.field}` : src.field);
  return parts.join(' ') || 'value';
}

/** Runs a parser and prefixes its ValueError with the source; other errors pass unchanged. */
export function named<T>(src: ValueSource | string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof ValueError) throw new ValueError(`${describeSource(src)}: ${e.message}`);
    throw e;
  }
}

/** Cuts a value for an error message: operators' typos are short, attackers' are not. */
export function quote(value: string, max = 80): string {
  return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
}

/** Integers: decimal digits only (no sign, exponent or fraction), within [min, max]. */
export function parseInteger(text: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = text.trim();
  const n = /^\d{1,16}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
    throw new ValueError(`expected an integer ${range}, got ${quote(text)}`);
  }
  return n;
}

const TRUE = ['true', '1', 'yes', 'on'];
const FALSE = ['false', '0', 'no', 'off'];

/** Booleans in environment variables and files (on the command line they are flags). */
export function parseBoolean(text: string): boolean {
  const v = text.trim().toLowerCase();
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  throw new ValueError(`expected true or false, got ${quote(text)}`);
}

/** One of a fixed set of words. */
export function parseChoice<T extends string>(text: string, choices: readonly T[]): T {
  const v = text.trim();
  if ((choices as readonly string[]).includes(v)) return v as T;
  throw new ValueError(`expected one of ${choices.join(', ')}, got ${quote(text)}`);
}
