/**
 * What every log line goes through before it is written (logger.ts wires it into pino):
 *
 * - **secrets by name**: a field called token, Token, id_token, authorization, password,
 *   privateKey, key, csr, … (any case, `_`/`-` or camelCase) is replaced by "[redacted]",
 *   at any depth, in arrays and in errors' own fields;
 * - **secrets by shape**, in any string, error messages and stacks included: JWT-shaped
 *   values (`eyJ…`), `Bearer <credential>`, `token=` query parameters, and PEM private-key
 *   and certificate-request blocks;
 * - **bounds**: strings are cut at 2,048 characters, arrays at 50 items, objects at 64
 *   fields and 6 levels, bytes are shown as their length. A log line never carries what a
 *   client chose at the size the client chose.
 *
 * Cheap on the hot path: a field whose value is a short string or a number is looked at by
 * one regular-expression test each, and an object that needs no change is returned as is,
 * not copied. The Certify audit line is flat, so it costs a dozen tests and no allocation.
 */

export const LOG_LIMITS = { stringChars: 2048, arrayItems: 50, objectKeys: 64, depth: 6 } as const;

export const REDACTED = '[redacted]';

/** Field names that hold secrets, whatever their case or separators. */
const SECRET_KEY =
  /^(?:(?:id|access|refresh|bearer|auth|session|jwt|sa|service[-_]?account)[-_]?)?tokens?$|^(?:proxy[-_]?)?authorization$|^(?:set[-_]?)?cookie$|^pass(?:word|phrase|wd)?$|^(?:client[-_]?)?secret$|^(?:(?:private|signing|secret|api|encryption)[-_]?)?key(?:[-_]?pem)?$|^x[-_]api[-_]key$|^csr(?:[-_]?(?:pem|der))?$|^certificate[-_]?signing[-_]?request$/i;

const SECRET_VALUE =
  /eyJ[\w-]{8,}(?:\.[\w-]*)*|\b(bearer)(\s+)[\w.~+/=-]+|([?&](?:access_|id_)?token=)[^&\s"'#]+|-----BEGIN [A-Z0-9 ]*(?:PRIVATE KEY|CERTIFICATE REQUEST)-----[\s\S]*?(?:-----END [A-Z0-9 ]*-----|$)/gi;

/**
 * Field names come from a small set chosen by our code, so the answer is remembered; the
 * cache is bounded because some objects (request headers) have names a client chose.
 */
const keyVerdicts = new Map<string, boolean>();
const MAX_REMEMBERED_KEYS = 1024;

export function isSecretKey(key: string): boolean {
  let secret = keyVerdicts.get(key);
  if (secret === undefined) {
    secret = SECRET_KEY.test(key);
    if (keyVerdicts.size < MAX_REMEMBERED_KEYS) keyVerdicts.set(key, secret);
  }
  return secret;
}

/** Cuts `text` to `max` characters, saying how much was left out. */
export function cutText(text: string, max: number = LOG_LIMITS.stringChars): string {
  return text.length > max ? `${text.slice(0, max)}… [${text.length - max} more characters]` : text;
}

/**
 * A cheap first test (indexOf is much faster than a regular expression): only strings with
 * one of `eyJ`, `-----`, `bearer` or `token=` (in either case) are searched for secrets.
 */
function maybeSecret(s: string): boolean {
  return (
    s.includes('eyJ') ||
    s.includes('-----') ||
    s.includes('earer') ||
    s.includes('EARER') ||
    s.includes('oken=') ||
    s.includes('OKEN=')
  );
}

/** A string with secret-shaped parts replaced, then cut. */
export function scrubString(text: string): string {
  let out = text;
  if (out.length >= 10 && maybeSecret(out)) {
    out = out.replace(SECRET_VALUE, (_m, bearer?: string, space?: string, param?: string) =>
      bearer ? `${bearer}${space}${REDACTED}` : param ? `${param}${REDACTED}` : REDACTED,
    );
  }
  return cutText(out);
}

/** The fields of one log call, scrubbed; `fields` itself when nothing needed to change. */
export function scrubFields(fields: Record<string, unknown>): Record<string, unknown> {
  return scrubObject(fields, 0, new Seen()) as Record<string, unknown>;
}

/** The objects on the path being walked (to stop at cycles), allocated only once a line has nested objects. */
class Seen {
  private set: Set<object> | null = null;
  has(o: object): boolean {
    return this.set !== null && this.set.has(o);
  }
  add(o: object): void {
    (this.set ??= new Set()).add(o);
  }
  delete(o: object): void {
    this.set?.delete(o);
  }
}

function scrubValue(value: unknown, depth: number, seen: Seen): unknown {
  switch (typeof value) {
    case 'string':
      return scrubString(value);
    case 'object':
      break;
    default:
      return value;
  }
  if (value === null) return value;
  if (ArrayBuffer.isView(value)) return `[${value.byteLength} bytes]`;
  if (value instanceof ArrayBuffer) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return value;
  if (seen.has(value)) return '[circular]';
  if (depth >= LOG_LIMITS.depth) return '[nested too deep]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return scrubArray(value, depth, seen);
    if (isErrorLike(value)) return scrubError(value, depth, seen);
    const json = (value as { toJSON?: unknown }).toJSON;
    if (typeof json === 'function') return scrubValue(json.call(value), depth, seen);
    return scrubObject(value as Record<string, unknown>, depth, seen);
  } finally {
    seen.delete(value);
  }
}

function scrubArray(items: unknown[], depth: number, seen: Seen): unknown[] {
  let out: unknown[] | null = items.length > LOG_LIMITS.arrayItems ? items.slice(0, LOG_LIMITS.arrayItems) : null;
  const n = Math.min(items.length, LOG_LIMITS.arrayItems);
  for (let i = 0; i < n; i++) {
    const v = scrubValue(items[i], depth + 1, seen);
    if (v !== items[i]) (out ??= items.slice(0, n))[i] = v;
  }
  if (items.length > n) out!.push(`[${items.length - n} more items]`);
  return out ?? items;
}

function scrubObject(obj: Record<string, unknown>, depth: number, seen: Seen): Record<string, unknown> {
  let out: Record<string, unknown> | null = null;
  let count = 0;
  for (const key in obj) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) continue;
    if (++count > LOG_LIMITS.objectKeys) {
      out = copyFirst(out ?? obj, LOG_LIMITS.objectKeys);
      out['[more fields]'] = Object.keys(obj).length - LOG_LIMITS.objectKeys;
      break;
    }
    const before = obj[key];
    const after = before === undefined || before === null ? before : isSecretKey(key) ? REDACTED : scrubValue(before, depth + 1, seen);
    if (after !== before) (out ??= copyFirst(obj, Infinity))[key] = after;
  }
  return out ?? obj;
}

function copyFirst(obj: Record<string, unknown>, n: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  let i = 0;
  for (const key in obj) {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) continue;
    if (i++ >= n) break;
    out[key] = obj[key];
  }
  return out;
}

type ErrorLike = { message: string; name?: unknown; stack?: unknown; cause?: unknown };

function isErrorLike(v: object): v is ErrorLike {
  return v instanceof Error || (typeof (v as { message?: unknown }).message === 'string' && typeof (v as { stack?: unknown }).stack === 'string');
}

/** Errors as pino's serializer shapes them ({type, message, stack, ...fields}), scrubbed. */
function scrubError(err: ErrorLike, depth: number, seen: Seen): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: typeof err.constructor === 'function' && err.constructor !== Object ? err.constructor.name : String(err.name ?? 'Error'),
    message: scrubString(err.message),
  };
  if (typeof err.stack === 'string') out.stack = scrubString(err.stack);
  const fields = scrubObject(err as unknown as Record<string, unknown>, depth, seen);
  for (const key in fields) if (key !== 'message' && key !== 'stack') out[key] = fields[key];
  if (err.cause !== undefined && !('cause' in out)) out.cause = scrubValue(err.cause, depth + 1, seen);
  return out;
}
