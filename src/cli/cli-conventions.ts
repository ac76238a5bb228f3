/**
 * The conventions every `lanyard` sub-command follows (README, "Command-line conventions"):
 *
 * - Exit status: 0 success; 1 the operation failed (a refused Certify, an unreachable
 *   service, a failed check); 2 a usage error (unknown flag, bad value, missing file,
 *   missing required option). `lanyard check` alone refines 1/2 as warnings/failures.
 * - Results go to stdout, in the format `--output` picks (`text` by default, `json` for
 *   scripts); notes, warnings and errors go to stderr, errors as one `lanyard: ...` line
 *   without a stack trace.
 * - A value read from a flag or its variable is parsed by src/util's grammar, and an error
 *   names both (`--addr (env LANYARD_IDENTITY_ADDR): ...`). The option builders in
 *   cli-options.ts do this; `applyConventions` wires the rest into the program.
 * - Help: each variable is named once (by commander, `env: X`); boolean options are flags;
 *   placeholders say what they hold; descriptions are lower-case phrases without a final
 *   period. test/unit/cli/cli-conventions.test.ts walks every command to keep it so.
 */
import { CommanderError, Option, type Command } from 'commander';
import { parseBoolean, parseChoice, named, ValueError } from '../util/value-error.js';

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

/** A file the operator named that is missing or unreadable is a usage error. */
const FILE_CODES = new Set(['ENOENT', 'EISDIR', 'ENOTDIR', 'EACCES']);

/** Maps an error thrown out of an action to its exit status. */
export function exitStatusOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT_OK : EXIT_USAGE;
  if (err instanceof UsageError || err instanceof ValueError) return EXIT_USAGE;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && FILE_CODES.has(code) && (err as NodeJS.ErrnoException).syscall !== 'spawn') return EXIT_USAGE;
  return EXIT_FAILED;
}

/**
 * Turns a sub-system's typed error into the CLI's: `isUsage` says which of its errors are
 * the operator's input (bad option, unreadable file); every other Error stays as it is and
 * counts as a failed operation.
 */
export function asUsage(err: unknown, isUsage: (e: Error) => boolean): unknown {
  return err instanceof Error && !(err instanceof UsageError) && isUsage(err) ? new UsageError(err.message) : err;
}

/** Runs `fn`, reclassifying its errors with `asUsage`. */
export async function classified<T>(fn: () => Promise<T> | T, isUsage: (e: Error) => boolean): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw asUsage(e, isUsage);
  }
}

/** src/k8s's "no usable kubeconfig" (ERR_K8S_CONFIG): a missing or broken file the operator named. */
export const isKubeconfigError = (e: Error): boolean => (e as { code?: unknown }).code === 'ERR_K8S_CONFIG';

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

/**
 * What an option's value is, for its placeholder, shell completion and the conventions
 * test. Set by the builders in cli-options.ts (which parse the value with src/util's grammar).
 */
export type ValueKind = 'boolean' | 'address' | 'duration' | 'integer' | 'port' | 'choice' | 'file' | 'dir' | 'text';

const KINDS = new WeakMap<Option, ValueKind>();

export function setKind<O extends Option>(o: O, kind: ValueKind): O {
  KINDS.set(o, kind);
  return o;
}

/** The option's kind; an option made without a builder has none. */
export function kindOf(o: Option): ValueKind | undefined {
  return KINDS.get(o) ?? (!o.required && !o.optional ? 'boolean' : undefined);
}

/** `-o, --output <format>`: text for people, json for scripts. */
export function outputOption(formats: readonly string[] = ['text', 'json']): Option {
  const o = new Option('-o, --output <format>', 'output format').choices([...formats]).default(formats[0], formats[0]);
  o.argParser((text: string) => parseFlag('--output', undefined, () => parseChoice(text, formats)));
  return setKind(o, 'choice');
}

/** Writes a command's result: `json` as one JSON document, otherwise the text rendering. */
export function printResult(format: string, value: unknown, text: () => string): void {
  if (format === 'json') process.stdout.write(JSON.stringify(value, null, 2) + '\n');
  else {
    const out = text();
    process.stdout.write(out.endsWith('\n') || out === '' ? out : out + '\n');
  }
}

/** Errors that mean a bug in Lanyard rather than a problem with the input or the world. */
const BUGS = [TypeError, ReferenceError, RangeError, SyntaxError];

/**
 * Prints an error the way every command does and returns the exit status. Commander has
 * already printed its own errors (unknown option, missing argument). Only a bug gets a
 * stack trace; LANYARD_DEBUG=1 adds it to every error.
 */
export function reportError(err: unknown): number {
  const status = exitStatusOf(err);
  if (err instanceof CommanderError) return status;
  const e = err instanceof Error ? err : new Error(String(err));
  const bug = BUGS.some((B) => e.constructor === B);
  process.stderr.write(`lanyard: ${e.message}\n`);
  if ((bug || process.env.LANYARD_DEBUG === '1') && e.stack) process.stderr.write(`${e.stack.split('\n').slice(1).join('\n')}\n`);
  return status;
}

/** Every command of the program, depth first, the program included. */
export function allCommands(program: Command): Command[] {
  return [program, ...program.commands.flatMap((c) => allCommands(c))];
}

/**
 * Applies the conventions to every registered command:
 * - commander's own errors (unknown option, bad choice, missing argument) exit 2, not 1;
 * - a boolean flag's variable is read as a boolean (`LANYARD_LINKERD_COMPAT=false` is off;
 *   commander alone would switch the flag on for any value);
 * - an empty variable is the same as an unset one, as for the proxy's variables.
 */
export function applyConventions(program: Command): void {
  for (const cmd of allCommands(program)) {
    cmd.exitOverride();
    cmd.showHelpAfterError('(run with --help for usage)');
    for (const o of cmd.options) {
      if (o.envVar && process.env[o.envVar]?.trim() === '') delete process.env[o.envVar];
    }
  }
  program.hook('preAction', (_program, action) => {
    for (const o of action.options) {
      if (o.required || o.optional || !o.envVar) continue;
      const key = o.attributeName();
      if (action.getOptionValueSource(key) !== 'env') continue;
      const value = parseFlag(o.long ?? o.flags, o.envVar, () => parseBoolean(process.env[o.envVar!] ?? ''));
      action.setOptionValueWithSource(key, value, 'env');
    }
  });
}
