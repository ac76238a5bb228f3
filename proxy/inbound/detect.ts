/**
 * Reads the first bytes of an inbound connection until the protocol is known, within a
 * deadline, and puts the bytes back so whoever handles the connection reads them again.
 */
import type { Socket } from 'node:net';
import { detectProtocol, MAX_CLIENT_HELLO, type Detection } from '../tls/client-hello.js';

export type DetectResult = Detection | { kind: 'timeout' } | { kind: 'closed' };

export function detect(socket: Socket, timeoutMs: number): Promise<DetectResult> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (r: DetectResult) => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.pause();
      if (size) socket.unshift(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
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
    const onEnd = () => done(size ? { kind: 'plaintext' } : { kind: 'closed' });
    const timer = setTimeout(() => done({ kind: 'timeout' }), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.resume();
  });
}
