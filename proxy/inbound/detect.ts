/**
 * Reads the first bytes of an inbound connection until the protocol is known, within a
 * deadline, and puts the bytes back so whoever handles the connection reads them again.
 */
import type { Socket } from 'node:net';
import { detectProtocol, MAX_CLIENT_HELLO, type Detection } from '../tls/client-hello.js';

export type DetectResult =
  | Detection
  /** The peer half-closed before the protocol was known; `replay` is what it sent (see done()). */
  | { kind: 'plaintext'; replay: Buffer }
  | { kind: 'timeout' }
  /** The connection is gone (FIN with nothing sent, or a reset); `bytes` it had sent. */
  | { kind: 'closed'; bytes: number };

export function detect(socket: Socket, timeoutMs: number): Promise<DetectResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (r: DetectResult) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onClose);
      socket.pause();
      // After 'end' or 'close' a stream refuses unshift(): it destroys the socket with an
      // error, and the caller then waited forever on a connection that was gone (no audit
      // line, an active slot never freed). Those results carry the bytes instead.
      if (size && r.kind !== 'closed' && !('replay' in r)) socket.unshift(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
      resolve(r);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      const r = detectProtocol(chunks.length === 1 ? chunk : Buffer.concat(chunks));
      if (r.kind !== 'need-more') done(r);
      else if (size > MAX_CLIENT_HELLO + 5 * 4) done({ kind: 'malformed', reason: 'no complete ClientHello in the first bytes' });
    };
    // A peer that sends a little and then half-closes: classify what we have.
    const onEnd = () => done(size ? { kind: 'plaintext', replay: Buffer.concat(chunks) } : { kind: 'closed', bytes: 0 });
    const onClose = () => done({ kind: 'closed', bytes: size });
    const timer = setTimeout(() => done({ kind: 'timeout' }), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onClose);
    socket.resume();
  });
}
