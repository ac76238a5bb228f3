/**
 * Moves bytes both ways between two connected sockets until both directions are done.
 *
 * - Backpressure: a direction's reader is paused while its writer holds more than
 *   `bufferBytes` not yet handed to the kernel (or, for an HTTP/2 stream, not yet sent), and
 *   resumed once that has drained. Not stream.pipe(): pipe pauses at the writer's 16 KiB
 *   high-water mark, and an HTTP/2 stream reports a write done only a few event-loop turns
 *   later (the session writes on setImmediate, then waits for its socket), so a 64 KiB read
 *   paused the reader for every chunk and a bulk transfer ran at a third of its speed.
 * - Coalescing: a streaming direction (8 KiB or more per batch) writes what it read in one
 *   turn of the event loop at the end of that turn, in one write; a small exchange writes at
 *   the end of the callback that read it, so it waits for no other socket.
 * - Half-close: when one side sends FIN, the other side is ended (FIN) and the opposite
 *   direction keeps flowing; both sockets must be created with allowHalfOpen.
 * - Errors: a reset or error on either side destroys both at once.
 * - Idle: no traffic in either direction for `idleTimeoutMs` destroys both.
 */
import type { Duplex } from 'node:stream';
import { youngCollector } from './young-collector.js';

/** A TCP or TLS socket, or an HTTP/2 stream of the multiplexed transport. */
export type SpliceEnd = Duplex & { setTimeout(ms: number, cb?: () => void): unknown };

export interface SpliceOptions {
  /** Default 1h; 0 disables. */
  idleTimeoutMs?: number;
  /** Bytes a direction may have in flight in its writer before its reader pauses. Default 256 KiB. */
  bufferBytes?: number;
}

export interface SpliceResult {
  /** Why it ended: `eof`, `idle-timeout`, `error:<side>:<code>`, `closed:<side>` (ended uncleanly). */
  reason: string;
}

/** What one direction holds in flight at most: four 64 KiB socket reads. */
export const SPLICE_BUFFER_BYTES = 256 * 1024;

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
    const limit = opts.bufferBytes ?? SPLICE_BUFFER_BYTES;
    pump(a, b, limit);
    pump(b, a, limit);
  });
}

/** A batch this large says the direction is streaming: coalesce over a turn, not a callback. */
const STREAMING_BATCH_BYTES = 8 * 1024;

/** One direction: `from`'s bytes to `to`, paused while `to` holds `limit` bytes, then FIN. */
function pump(from: Duplex, to: Duplex, limit: number): void {
  let corked = false;
  let batchBytes = 0;
  let streaming = false;
  const uncork = () => {
    corked = false;
    streaming = batchBytes >= STREAMING_BATCH_BYTES;
    batchBytes = 0;
    to.uncork();
  };
  from.on('data', (chunk: Buffer) => {
    youngCollector.note(chunk.length);
    // Coalescing: chunks are held (corked) and leave in one write. libuv reads a socket up to
    // 32 times per wake-up, each read its own callback, and an HTTP/2 DATA frame often comes
    // as two pieces split by TLS records. A direction that is streaming (its last batch was
    // large) is held for the rest of this turn of the event loop (setImmediate); an exchange
    // waiting for its answer only until the current callback is done (nextTick), so it is not
    // delayed by a turn. end() uncorks by itself.
    batchBytes += chunk.length;
    if (!corked) {
      corked = true;
      to.cork();
      if (streaming || chunk.length >= STREAMING_BATCH_BYTES) setImmediate(uncork);
      else process.nextTick(uncork);
    }
    // write() says false past the writer's small high-water mark; we pause only past `limit`.
    // 'drain' follows either way once the writer has emptied, and resumes us.
    if (!to.write(chunk) && to.writableLength >= limit) from.pause();
  });
  to.on('drain', () => from.resume());
  // A socket handed over paused (pauseOnConnect, protocol detection) stays paused when a
  // 'data' listener is added: start it.
  from.resume();
  const finish = () => {
    if (!to.destroyed && !to.writableEnded) to.end();
  };
  // A side whose FIN came during protocol detection has already emitted 'end' (its bytes are
  // replayed by the caller): pass the FIN on now, as stream.pipe() does, or it is never sent.
  if (from.readableEnded) finish();
  else from.once('end', finish);
}
