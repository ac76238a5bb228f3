/**
 * The conventions every `lanyard` sub-command follows (README, "Command-line conventions"):
 *
 * - Exit status: 0 success; 1 the operation failed (a refused Certify, an unreachable
 *   service, a failed check); 2 a usage error (unknown flag, bad value, missing file).
 *   `lanyard check` alone refines 1/2 as warnings/failures.
 * - Results go to stdout, in the format `--output` picks (`text` by default, `json` for
 *   scripts); notes, warnings and errors go to stderr.
 * - A value read from a flag or its variable is parsed by src/util's grammar, and an error
 *   names both (`--addr (env LANYARD_IDENTITY_ADDR): ...`).
 */
import { Option } from 'commander';
import { named, ValueError } from '../util/value-error.js';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** The operator asked for something that cannot be done as asked: exit 2, no stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The operation was tried and did not succeed: exit 1, no stack trace. */
export class OperationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperationError';
  }
}

/** Maps an error thrown out of an action to its exit status. */
export function exitStatusOf(err: unknown): number {
  if (err instanceof UsageError || err instanceof ValueError) return EXIT_USAGE;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  // A file the operator named that is missing or unreadable is a usage error.
  if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'EACCES') return EXIT_USAGE;
  return EXIT_FAILED;
}

/**
 * Parses a flag's value with a src/util parser; a ValueError becomes a UsageError naming the
 * flag and, when given, the variable the value may also come from.
 */
export function parseFlag<T>(flag: string, env: string | undefined, parse: () => T): T {
  try {
    return named({ flag, env }, parse);
  } catch (e) {
    if (e instanceof ValueError) throw new UsageError(e.message);
    throw e;
  }
}

export type OutputFormat = 'text' | 'json';

/** `--output <format>` (`-o`): text for people, json for scripts. */
export function outputOption(formats: readonly string[] = ['text', 'json']): Option {
  return new Option('-o, --output <format>', 'output format').choices([...formats]).default(formats[0]);
}

/** Writes a command's result: `json` as one JSON document, otherwise the text rendering. */
export function printResult(format: string, value: unknown, text: () => string): void {
  if (format === 'json') process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else {
    const out = text();
    process.stdout.write(out.endsWith('\n') || out === '' ? out : out + '\n');
  }
}
