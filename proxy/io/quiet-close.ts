/**
 * Closing a connection that must go (its peer's anchor left the bundle) without cutting a
 * request: a proxy at layer 4 cannot see requests, but it can see who spoke last. Most
 * protocols on a kept-alive connection are exchanges the client starts and the server
 * answers (HTTP/1.1, most RPC), so the quiet moment after the server's answer is where a
 * close costs nothing: a pooled client sees the end of an idle connection and opens a new
 * one for its next request.
 *
 * So: once the server side has spoken and then nothing has moved either way for `quietMs`,
 * with nothing left to write, `close` is called. After the client speaks the answer is
 * awaited, but only for `idleMs` of silence; that bound applies from the start too, when who
 * spoke last is not known. Whatever never goes quiet is closed by the caller's grace period.
 * Listeners are added only here, when a drain starts: nothing is paid per byte before.
 */
import type { Duplex } from 'node:stream';

export interface QuietCloseOptions {
  /** Silence after the server's bytes that counts as the end of an exchange. Default 10 ms. */
  quietMs?: number;
  /** Silence after the client's bytes (or from the start) after which it closes anyway. Default 1 s. */
  idleMs?: number;
}

/**
 * Calls `close` once at the first quiet moment of `client` ↔ `server`.
 * @returns a cancel (when the connection closed by itself)
 */
export function closeWhenQuiet(client: Duplex, server: Duplex, close: () => void, o: QuietCloseOptions = {}): () => void {
  const quietMs = o.quietMs ?? 10;
  const idleMs = o.idleMs ?? 1000;
  let timer: NodeJS.Timeout | null = null;
  const arm = (ms: number) => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(check, ms);
  };
  const check = () => {
    timer = null;
    // Bytes still queued towards either side are part of the exchange: let them out first.
    if (client.writableLength > 0 || server.writableLength > 0) return arm(quietMs);
    cancel();
    close();
  };
  const fromServer = () => arm(quietMs);
  const fromClient = () => arm(idleMs);
  const cancel = () => {
    if (timer) clearTimeout(timer);
    timer = null;
    server.off('data', fromServer);
    client.off('data', fromClient);
  };
  // A 'data' listener does not resume a stream the splice paused for backpressure.
  server.on('data', fromServer);
  client.on('data', fromClient);
  arm(idleMs);
  return cancel;
}
