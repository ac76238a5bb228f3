/**
 * Captures pino output in memory so tests assert on log fields (pino's own advice).
 */
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/telemetry/logger.js';

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export class LogSink extends Writable {
  readonly lines: LogLine[] = [];
  readonly raw: string[] = [];

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.trim()) continue;
      this.raw.push(line);
      this.lines.push(JSON.parse(line) as LogLine);
    }
    cb();
  }

  where(match: Record<string, unknown>): LogLine[] {
    return this.lines.filter((l) => Object.entries(match).every(([k, v]) => l[k] === v));
  }

  logger(component = 'test'): Logger {
    return createLogger({ component, level: 'debug', destination: this });
  }
}
