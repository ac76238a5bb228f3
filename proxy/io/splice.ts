/**
 * Moves bytes both ways between two connected sockets until both directions are done.
 *
 * - Backpressure: stream.pipe() pauses the reader while the writer's buffer is full.
 * - Half-close: when one side sends FIN, the other side is ended (FIN) and the opposite
 *   direction keeps flowing; both sockets must be created with allowHalfOpen.
 * - Errors: a reset or error on either side destroys both at once.
 * - Idle: no traffic in either direction for `idleTimeoutMs` destroys both.
 */
import type { Duplex } from 'node:stream';

/** A TCP or TLS socket, or an HTTP/2 stream of the multiplexed transport. */
export type SpliceEnd = Duplex & { setTimeout(ms: number, cb?: () => void): unknown };

export interface SpliceOptions {
  /** Default 1h; 0 disables. */
  idleTimeoutMs?: number;
}

export interface SpliceResult {
  /** Why it ended: `eof`, `idle-timeout`, `error:<side>:<code>`, `closed:<side>` (ended uncleanly). */
  reason: string;
}

export function splice(a: SpliceEnd, b: SpliceEnd, opts: SpliceOptions = {}): Promise<SpliceResult> {
  return new Promise((resolve) => {
    let reason: string | null = null;
    let closed = 0;
    const finish = (why: string) => {
      if (reason === null) reason = why;
    };
    const fail = (side: 'a' | 'b') => (err: NodeJS.ErrnoException) => {
      finish(`error:${side}:${err.code ?? err.message}`);
      a.destroy();
      b.destroy();
    };
    const onClose = (side: 'a' | 'b') => () => {
      if (++closed === 2) {
        a.off('timeout', onIdle);
        b.off('timeout', onIdle);
        resolve({ reason: reason ?? 'eof' });
        return;
      }
      // A side that closed without finishing both directions (destroyed, reset) takes the
      // other down with it; a side that closed cleanly leaves the other to drain and close.
      const s = side === 'a' ? a : b;
      if (!(s.readableEnded && s.writableFinished)) {
        finish(`closed:${side}`);
        (side === 'a' ? b : a).destroy();
      }
    };
    const onIdle = () => {
      finish('idle-timeout');
      a.destroy();
      b.destroy();
    };
    a.on('error', fail('a'));
    b.on('error', fail('b'));
    a.once('close', onClose('a'));
    b.once('close', onClose('b'));
    const idle = opts.idleTimeoutMs ?? 3_600_000;
    if (idle > 0) {
      a.setTimeout(idle);
      b.setTimeout(idle);
      a.on('timeout', onIdle);
      b.on('timeout', onIdle);
    }
    a.pipe(b);
    b.pipe(a);
  });
}
