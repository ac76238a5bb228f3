/**
 * Where audit records go: their own sink, apart from the diagnostic log, so the log level
 * (debug, silent) never changes what the audit receives. Standard output by default, or an
 * append-only file reopened on demand (SIGHUP, for log rotation).
 *
 * Every record is one write(2) of one complete line, synchronously, on the event loop: a
 * line is never interleaved with another (the diagnostic log writes to stdout the same
 * way), never torn by a rotation (the descriptor is swapped between two writes, never
 * during one), and never lost to a crash of the process once the call returned.
 */
import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';
import { pino } from 'pino';

export interface AuditSink {
  /** Writes one complete line (ending in `\n`). Never throws: a failure goes to the sink's error handler. */
  write(line: string): void;
  /** A file is opened again at its path (after a rotation moved it); other sinks do nothing. */
  reopen(): void;
  close(): void;
  /** `stdout`, or the file's path. */
  readonly description: string;
}

export type SinkErrorHandler = (err: Error, during: 'write' | 'reopen') => void;

/**
 * Mode of a file the proxy creates: owner read-write, group read, so a log shipper running
 * under the pod's fsGroup can collect it and nobody else can read who talked to whom. An
 * existing file keeps its mode (logrotate's `create` or the operator decides it).
 */
export const AUDIT_FILE_MODE = 0o640;

export class StdoutAuditSink implements AuditSink {
  readonly description = 'stdout';
  // pino's synchronous destination: it waits out EAGAIN on a non-blocking stdout pipe
  // instead of dropping or reordering, as the diagnostic logger does.
  private readonly out = pino.destination({ dest: 1, sync: true });

  constructor(private readonly onError: SinkErrorHandler = () => undefined) {}

  write(line: string): void {
    try {
      this.out.write(line);
    } catch (e) {
      this.onError(e as Error, 'write');
    }
  }

  reopen(): void {}

  close(): void {
    try {
      this.out.flushSync();
    } catch {
      // stdout already gone: nothing left to flush to
    }
  }
}

export class AuditFile implements AuditSink {
  private fd: number;

  /** @throws the open error (missing directory, permission): a proxy must not start without its audit file */
  constructor(
    readonly path: string,
    private readonly onError: SinkErrorHandler = () => undefined,
  ) {
    this.fd = openForAppend(path);
  }

  get description(): string {
    return this.path;
  }

  write(line: string): void {
    const buf = Buffer.from(line, 'utf8');
    try {
      // A regular file takes the whole buffer in one write; the loop covers the rare short write.
      for (let off = 0; off < buf.length; ) off += writeSync(this.fd, buf, off, buf.length - off);
    } catch (e) {
      this.onError(e as Error, 'write');
    }
  }

  /** Opens the path again and only then swaps descriptors: if the open fails, writing goes on to the old file. */
  reopen(): void {
    let next: number;
    try {
      next = openForAppend(this.path);
    } catch (e) {
      return this.onError(e as Error, 'reopen');
    }
    const old = this.fd;
    this.fd = next;
    closeSync(old);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** O_APPEND (every write lands at the end, whoever else appends); created with AUDIT_FILE_MODE whatever the umask. */
function openForAppend(path: string): number {
  try {
    const fd = openSync(path, 'ax', AUDIT_FILE_MODE);
    fchmodSync(fd, AUDIT_FILE_MODE);
    return fd;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return openSync(path, 'a');
}

/** Collects lines in memory (tests, and the benchmark's "no sink" baseline). */
export class MemoryAuditSink implements AuditSink {
  readonly description = 'memory';
  readonly lines: string[] = [];
  write(line: string): void {
    this.lines.push(line);
  }
  reopen(): void {}
  close(): void {}
}
