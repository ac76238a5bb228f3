/**
 * pino loggers that never write a secret, nor an unbounded value. Writes are synchronous so
 * an audit line is never lost to a crash or an exit.
 *
 * Every log call's fields, child bindings and message go through log-scrub.ts: fields named
 * like secrets (token, Authorization, id_token, privateKey, csr, … in any case and at any
 * depth) become "[redacted]"; JWT-shaped strings, `Bearer` credentials and PEM key or CSR
 * blocks are redacted wherever they appear, errors' messages and stacks included; long
 * strings are cut. Code must still not put a secret into a log line; this is the second line
 * of defence.
 */
import { pino, type Logger, type DestinationStream, type LevelWithSilent, type LogFn } from 'pino';
import { scrubFields, scrubString } from './log-scrub.js';

export type { Logger };

export interface LoggerConfig {
  /** Component name, logged as `component`. */
  component: string;
  /** Default `info`, or LANYARD_LOG_LEVEL. */
  level?: LevelWithSilent;
  /** Default stdout; tests pass a sink to assert on fields. */
  destination?: DestinationStream;
}

export function createLogger(cfg: LoggerConfig): Logger {
  const level = cfg.level ?? ((process.env.LANYARD_LOG_LEVEL as LevelWithSilent | undefined) || 'info');
  const logger = pino(
    {
      level,
      base: { component: cfg.component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: scrubFields, bindings: scrubFields },
      // scrubFields has already turned errors into pino's {type, message, stack} shape.
      serializers: { err: (e: unknown) => e },
      hooks: { logMethod: scrubMessage },
    },
    cfg.destination ?? pino.destination({ dest: 1, sync: true }),
  );
  // pino applies the bindings formatter to the root only, never to child(bindings); children
  // inherit this override (they are prototype-chained), so their bindings are scrubbed too.
  const child = logger.child;
  logger.child = function (this: Logger, bindings: Record<string, unknown>, options?: object) {
    return child.call(this, scrubFields(bindings), options);
  } as typeof logger.child;
  return logger;
}

/**
 * The message string(s) of a log call. pino takes an error's message as the line's message
 * when none is given; it is made explicit here so it is scrubbed like the rest.
 */
function scrubMessage(this: Logger, args: Parameters<LogFn>, method: LogFn): void {
  const first = args[0] as unknown;
  if (args.length === 1 && typeof first === 'object' && first !== null) {
    const err = first instanceof Error ? first : (first as { err?: { message?: unknown } }).err;
    const hasMsg = first instanceof Error ? false : (first as { msg?: unknown }).msg !== undefined;
    if (!hasMsg && typeof err?.message === 'string') (args as unknown[]).push(err.message);
  }
  for (let i = 0; i < args.length; i++) if (typeof args[i] === 'string') (args as unknown[])[i] = scrubString(args[i] as string);
  method.apply(this, args);
}
