/**
 * pino loggers with secrets redacted. Writes are synchronous so an audit line is never lost
 * to a crash or an exit.
 *
 * Tokens, keys and CSRs never reach a log line: a field with one of these names (top level,
 * or the nested places listed) is replaced by "[redacted]". Code must still not put a
 * secret into a message string; the redaction is the second line of defence.
 */
import { pino, type Logger, type DestinationStream, type LevelWithSilent } from 'pino';

export type { Logger };

const SECRET_FIELDS = [
  'token',
  'authorization',
  'key',
  'privateKey',
  'private_key',
  'keyPem',
  'password',
  'secret',
  'csr',
  'certificate_signing_request',
];

// Top-level names and the few nested places a secret can appear. No `*.field` wildcards:
// they make pino walk every object of every line, a measurable cost on the Certify path.
export const REDACT_PATHS = [...SECRET_FIELDS, 'req.headers.authorization', 'headers.authorization', 'err.token', 'request.token'];

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
  return pino(
    {
      level,
      base: { component: cfg.component },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    cfg.destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
