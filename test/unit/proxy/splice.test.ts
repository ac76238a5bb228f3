/**
 * splice(): the pump's backpressure (a reader pauses only once its writer holds the limit,
 * and resumes when the writer drains), half-close (a FIN one way ends that direction only),
 * and errors (a reset on one side destroys the other). Between real loopback sockets; the
 * slow writer is a real socket whose peer does not read, so the kernel's buffers fill.
 */
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { splice, SPLICE_BUFFER_BYTES } from '../../../proxy/io/splice.js';

const KiB = 1024;

/** A connected loopback pair [client, server], both allowHalfOpen. */
async function socketPair(): Promise<[Socket, Socket, Server]> {
  const server = createServer({ allowHalfOpen: true });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const client = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await once(client, 'connect');
  const [peer] = await accepted;
  return [client, peer, server];
}

/** The server answers after the client's FIN: the reply still reaches the client, then the splice ends at EOF. */
async function expectReplyAfterEof(client: Socket, server: Socket, done: Promise<{ reason: string }>): Promise<void> {
  const reply: Buffer[] = [];
  client.on('data', (c: Buffer) => reply.push(c));
  server.end('the reply, written after EOF');
  await once(client, 'end');
  expect(Buffer.concat(reply).toString()).toBe('the reply, written after EOF');
  expect((await done).reason).toBe('eof');
}

/** An in-memory splice end: reads are what the test pushes; subclasses decide when writes complete. */
abstract class TestEnd extends Duplex {
  readonly written: Buffer[] = [];
  constructor() {
    super({ allowHalfOpen: true });
  }
  setTimeout(): this {
    return this;
  }
  override _read(): void {}
}

/**
 * A writable end whose writes complete only when the test says so: what a slow HTTP/2
 * stream or a full socket looks like to the pump. Reads are what the test pushes.
 */
class HeldWriter extends TestEnd {
  readonly held: Array<{ chunk: Buffer; done: () => void }> = [];
  ended = false;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.held.push({ chunk, done });
  }
  override _final(done: () => void): void {
    this.ended = true;
    done();
  }
  /** Completes every held write (each may queue the next). */
  release(): void {
    while (this.held.length > 0) {
      const w = this.held.shift()!;
      this.written.push(w.chunk);
      w.done();
    }
  }
}

/** A readable end the test pushes into; records what the pump writes back to it. */
class Source extends TestEnd {
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.written.push(chunk);
    done();
  }
}

test('ok/the reader keeps flowing past the writer high-water mark, pauses at the limit, and resumes on drain', async () => {
  const src = new Source();
  const dst = new HeldWriter();
  const done = splice(src, dst, { idleTimeoutMs: 0, bufferBytes: 256 * KiB });
  const chunk = Buffer.alloc(64 * KiB, 7);

  // 64 KiB is past the writer's 16 KiB high-water mark: stream.pipe() would pause here.
  src.push(chunk);
  await new Promise(setImmediate);
  expect(src.isPaused()).toBe(false);

  for (let i = 1; i < 4; i++) src.push(chunk); // 256 KiB in flight now: the limit
  await new Promise(setImmediate);
  expect(dst.writableLength).toBe(256 * KiB);
  expect(src.isPaused()).toBe(true);

  // Pushed while paused: buffered in the reader, not written.
  src.push(chunk);
  await new Promise(setImmediate);
  expect(dst.writableLength).toBe(256 * KiB);

  dst.release(); // the writer drains: the pump resumes and the fifth chunk goes through
  await new Promise(setImmediate);
  expect(src.isPaused()).toBe(false);
  await new Promise(setImmediate); // the turn's writes leave together (corked until then)
  dst.release();
  expect(Buffer.concat(dst.written).length).toBe(5 * 64 * KiB);

  src.push(null);
  await new Promise(setImmediate);
  expect(dst.ended).toBe(true);
  src.end();
  dst.push(null);
  await new Promise(setImmediate);
  src.destroy();
  dst.destroy();
  await done;
});

test('ok/a slow real reader holds the writer back: at most the limit waits in the proxy', async () => {
  const [app, proxyIn, s1] = await socketPair();
  const [proxyOut, slow, s2] = await socketPair();
  const done = splice(proxyIn, proxyOut, { idleTimeoutMs: 0 });
  slow.pause(); // reads nothing: the kernel buffers fill, then the proxy's writer does
  const block = Buffer.alloc(64 * KiB, 1);
  let sent = 0;
  // Write far more than loopback buffers hold, honouring drain, until the app is held back.
  while (app.write(block)) sent += block.length;
  sent += block.length;
  for (let i = 0; i < 200 && !proxyIn.isPaused(); i++) {
    await Promise.race([once(app, 'drain'), new Promise((r) => setTimeout(r, 50))]);
    while (app.write(block)) sent += block.length;
    sent += block.length;
  }
  expect(proxyIn.isPaused()).toBe(true);
  // Bytes queued in the proxy's writer past the limit: at most one read (64 KiB) more.
  expect(proxyOut.writableLength).toBeGreaterThanOrEqual(SPLICE_BUFFER_BYTES);
  expect(proxyOut.writableLength).toBeLessThan(SPLICE_BUFFER_BYTES + 128 * KiB);

  // The reader starts reading: everything arrives, and the pump resumes.
  let got = 0;
  slow.on('data', (c: Buffer) => (got += c.length));
  slow.resume();
  app.end();
  await once(slow, 'end');
  expect(got).toBe(sent);
  slow.end();
  await once(app, 'end');
  app.destroy();
  slow.destroy();
  expect((await done).reason).toBe('eof');
  s1.close();
  s2.close();
});

/** A writable end that completes every write at once and records the chunk sizes of each one. */
class WriteRecorder extends HeldWriter {
  readonly writes: number[][] = [];
  override _writev(chunks: Array<{ chunk: Buffer }>, done: () => void): void {
    this.writes.push(chunks.map((c) => c.chunk.length));
    done();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.writes.push([chunk.length]);
    done();
  }
}

test('ok/a streaming direction: chunks read in one turn of the event loop reach the writer in one write', async () => {
  const src = new Source();
  const dst = new WriteRecorder();
  const writes = dst.writes;
  const done = splice(src, dst, { idleTimeoutMs: 0 });
  await new Promise(setImmediate); // flowing now
  src.push(Buffer.alloc(16_384));
  src.push(Buffer.alloc(35));
  src.push(Buffer.alloc(16_384));
  await new Promise(setImmediate);
  expect(writes).toEqual([[16_384, 35, 16_384]]);
  src.push(Buffer.alloc(10));
  await new Promise(setImmediate);
  expect(writes).toEqual([[16_384, 35, 16_384], [10]]);
  src.destroy();
  await done;
});

test('ok/a small exchange is not held for the turn: it leaves when the callback that read it is done', async () => {
  const src = new Source();
  const dst = new WriteRecorder();
  const writes = dst.writes;
  const done = splice(src, dst, { idleTimeoutMs: 0 });
  await new Promise(setImmediate); // flowing now
  let beforeTurnEnds: number[][] = [];
  setImmediate(() => (beforeTurnEnds = writes.map((w) => [...w])));
  src.push(Buffer.alloc(300)); // a request and its tail, read in one callback
  src.push(Buffer.alloc(20));
  await new Promise(process.nextTick);
  expect(writes).toEqual([[300, 20]]);
  await new Promise(setImmediate);
  expect(beforeTurnEnds).toEqual([[300, 20]]);
  src.destroy();
  await done;
});

test('ok/half-close: a FIN from one side ends that direction only; the other keeps flowing', async () => {
  const [client, proxyIn, s1] = await socketPair();
  const [proxyOut, server, s2] = await socketPair();
  const done = splice(proxyIn, proxyOut, { idleTimeoutMs: 0 });
  const request: Buffer[] = [];
  server.on('data', (c: Buffer) => request.push(c));
  client.end('the whole request');
  await once(server, 'end');
  expect(Buffer.concat(request).toString()).toBe('the whole request');

  await expectReplyAfterEof(client, server, done);
  s1.close();
  s2.close();
});

test('error/a reset on one side destroys the other', async () => {
  const [client, proxyIn, s1] = await socketPair();
  const [proxyOut, server, s2] = await socketPair();
  const done = splice(proxyIn, proxyOut, { idleTimeoutMs: 0 });
  server.on('error', () => {});
  const ended = once(server, 'end'); // the proxy's side towards the server is gone
  client.resetAndDestroy();
  const result = await done;
  expect(result.reason).toMatch(/^(error:a:ECONNRESET|closed:a)$/);
  expect(proxyOut.destroyed).toBe(true);
  await ended;
  server.destroy();
  s1.close();
  s2.close();
});

test('ok/a side that sent FIN before the splice began (during protocol detection) has its FIN passed on', async () => {
  const [client, proxyIn, s1] = await socketPair();
  const [proxyOut, server, s2] = await socketPair();
  // What detection does: read the client's bytes and its FIN, then hand the socket over paused.
  const early: Buffer[] = [];
  proxyIn.on('data', (c: Buffer) => early.push(c));
  client.end('sent before the splice');
  await once(proxyIn, 'end');
  proxyIn.removeAllListeners('data');
  proxyIn.pause();
  expect(proxyIn.readableEnded).toBe(true);

  const received: Buffer[] = [];
  server.on('data', (c: Buffer) => received.push(c));
  proxyOut.write(Buffer.concat(early)); // the caller's replay, before a byte moves
  const done = splice(proxyIn, proxyOut, { idleTimeoutMs: 0 });
  await once(server, 'end');
  expect(Buffer.concat(received).toString()).toBe('sent before the splice');
  await expectReplyAfterEof(client, server, done);
  s1.close();
  s2.close();
});
