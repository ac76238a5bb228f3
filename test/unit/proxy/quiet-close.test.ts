/**
 * Closing a drained connection at its first quiet moment (proxy/io/quiet-close.ts): after the
 * server's answer and `quietMs` of silence; after the client spoke, only once the answer came
 * or `idleMs` passed; never while bytes are still queued; a cancel stops it.
 */
import { jest } from '@jest/globals';
import { Duplex } from 'node:stream';
import { closeWhenQuiet } from '../../../proxy/io/quiet-close.js';

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

/** A socket stand-in: 'data' is emitted by the test; what is written stays queued until `flush`. */
class End extends Duplex {
  private pending: (() => void)[] = [];
  override _read(): void {}
  override _write(_c: Buffer, _e: BufferEncoding, cb: () => void): void {
    this.pending.push(cb);
  }
  flush(): void {
    for (const cb of this.pending.splice(0)) cb();
  }
}

function pair() {
  const client = new End();
  const server = new End();
  let closed = 0;
  const o = { quietMs: 10, idleMs: 1000 };
  return { client, server, closed: () => closed, start: () => closeWhenQuiet(client, server, () => void closed++, o) };
}

test('ok/the quiet moment after the server answered', () => {
  const p = pair();
  p.start();
  p.client.emit('data', Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  jest.advanceTimersByTime(500);
  expect(p.closed()).toBe(0); // the answer is awaited
  p.server.emit('data', Buffer.from('HTTP/1.1 200 OK\r\n'));
  jest.advanceTimersByTime(5);
  p.server.emit('data', Buffer.from('\r\nbody'));
  jest.advanceTimersByTime(9);
  expect(p.closed()).toBe(0);
  jest.advanceTimersByTime(1);
  expect(p.closed()).toBe(1);
  jest.advanceTimersByTime(5000);
  expect(p.closed()).toBe(1);
});

test('ok/an idle connection closes after idleMs; a silent server too', () => {
  const idle = pair();
  idle.start();
  jest.advanceTimersByTime(999);
  expect(idle.closed()).toBe(0);
  jest.advanceTimersByTime(1);
  expect(idle.closed()).toBe(1);
});

test('ok/bytes still queued towards a side are let out first', () => {
  const p = pair();
  p.start();
  p.server.emit('data', Buffer.from('x'));
  p.client.write(Buffer.alloc(100)); // not yet written out: writableLength > 0
  jest.advanceTimersByTime(100);
  expect(p.closed()).toBe(0);
  p.client.flush();
  jest.advanceTimersByTime(10);
  expect(p.closed()).toBe(1);
});

test('ok/cancelled: never closes, and the listeners are gone', () => {
  const p = pair();
  const cancel = p.start();
  expect(p.server.listenerCount('data')).toBe(1);
  cancel();
  jest.advanceTimersByTime(5000);
  expect(p.closed()).toBe(0);
  expect(p.server.listenerCount('data')).toBe(0);
  expect(p.client.listenerCount('data')).toBe(0);
});
