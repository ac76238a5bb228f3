/**
 * Bounded waits for a connection being made. A timer that only sets a flag is not a
 * timeout: on expiry the socket is destroyed, so its descriptor is freed and whoever waits
 * on it hears at once.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** `code` is `timeout`: the audit's close reasons read `app-connect:timeout`, `upstream:timeout`. */
export class DialTimeoutError extends Error {
  readonly code = 'timeout';

  constructor(what: string, ms: number) {
    super(`${what} did not complete within ${ms} ms`);
    this.name = 'DialTimeoutError';
  }
}

export interface TcpDialOptions {
  host: string;
  port: number;
  timeoutMs: number;
  /** Abandon the attempt when this closes first (the connection it was for went away). */
  cancelWith?: Duplex;
  /** Called with the socket as soon as it exists (to track it for shutdown). */
  onSocket?: (s: Socket) => void;
}

/** A TCP connection, connected within `timeoutMs`, or the error (DialTimeoutError on expiry). */
export function dialTcp(o: TcpDialOptions): Promise<Socket> {
  const socket = netConnect({ host: o.host, port: o.port, allowHalfOpen: true, noDelay: true });
  o.onSocket?.(socket);
  socket.on('error', () => undefined); // after connect, the splice reports errors
  return new Promise((resolve, reject) => {
    const cancel = () => socket.destroy(new Error('cancelled: the connection it was for closed'));
    const settle = () => {
      clearTimeout(timer);
      o.cancelWith?.off('close', cancel);
      socket.off('connect', onConnect);
      socket.off('error', onError);
    };
    const onConnect = () => (settle(), resolve(socket));
    const onError = (e: Error) => (settle(), socket.destroy(), reject(e));
    const timer = setTimeout(() => socket.destroy(new DialTimeoutError(`TCP connect to ${o.host}:${o.port}`, o.timeoutMs)), o.timeoutMs);
    o.cancelWith?.once('close', cancel);
    socket.once('connect', onConnect);
    socket.once('error', onError);
  });
}

/**
 * Resolves with `promise`, or rejects with a DialTimeoutError after `ms` — calling `onTimeout`
 * first, which must destroy whatever the promise was waiting on.
 */
export function within<T>(promise: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      onTimeout();
      reject(new DialTimeoutError(what, ms));
    }, ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e)),
    );
  });
}
