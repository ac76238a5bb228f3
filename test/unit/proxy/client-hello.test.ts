/**
 * detectProtocol on real ClientHellos (captured from node:tls and openssl s_client), on the
 * same handshake re-framed across records and cut at every byte, on plaintext, and on
 * malformed input; and detect() putting every byte back on a live socket.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { detect } from '../../../proxy/inbound/detect.js';
import { detectProtocol, MAX_CLIENT_HELLO, type Detection } from '../../../proxy/tls/client-hello.js';
import { captureClientHello } from '../../support/mesh-harness.js';

const NAME = 'api.default.serviceaccount.identity.lanyard.cluster.local';

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);
const u24 = (n: number) => Buffer.from([n >> 16, (n >> 8) & 0xff, n & 0xff]);

/** A TLS record of `type` (22 = handshake) carrying `body`. */
const record = (body: Buffer, type = 22, version = 0x0301) => Buffer.concat([Buffer.from([type]), u16(version), u16(body.length), body]);

/** The handshake layer of a run of records (what the records carry, concatenated). */
function handshakeOf(records: Buffer): Buffer {
  const out: Buffer[] = [];
  for (let p = 0; p < records.length; p += 5 + records.readUInt16BE(p + 3)) out.push(records.subarray(p + 5, p + 5 + records.readUInt16BE(p + 3)));
  return Buffer.concat(out);
}

/** `hs` re-framed into handshake records of at most `size` bytes each. */
function reframe(hs: Buffer, size: number): Buffer {
  const out: Buffer[] = [];
  for (let p = 0; p < hs.length; p += size) out.push(record(hs.subarray(p, p + size)));
  return Buffer.concat(out);
}

const ext = (type: number, data: Buffer) => Buffer.concat([u16(type), u16(data.length), data]);
const sniExt = (name: string) => ext(0, Buffer.concat([u16(3 + name.length), Buffer.from([0]), u16(name.length), Buffer.from(name, 'ascii')]));

/** A minimal TLS 1.3-style ClientHello handshake message with these extensions. */
function hello(extensions: Buffer[] | null, o: { sessionIdLength?: number } = {}): Buffer {
  const exts = extensions ? Buffer.concat(extensions) : null;
  const body = Buffer.concat([
    Buffer.from([3, 3]),
    Buffer.alloc(32, 7), // random
    Buffer.from([o.sessionIdLength ?? 0]),
    u16(2),
    Buffer.from([0x13, 0x01]), // TLS_AES_128_GCM_SHA256
    Buffer.from([1, 0]), // compression: null
    ...(exts ? [u16(exts.length), exts] : []),
  ]);
  return Buffer.concat([Buffer.from([1]), u24(body.length), body]);
}

/** The first flight `openssl s_client <args>` sends, captured by a listener that never answers. */
async function opensslHello(args: string[]): Promise<Buffer> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${(server.address() as AddressInfo).port}`, ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
  try {
    const [socket] = (await once(server, 'connection')) as [Socket];
    let buf = Buffer.alloc(0);
    while (detectProtocol(buf).kind === 'need-more') buf = Buffer.concat([buf, ((await once(socket, 'data')) as [Buffer])[0]]);
    socket.destroy();
    return buf;
  } finally {
    child.kill('SIGKILL');
    server.close();
  }
}

let captured: [string, Buffer, string | null][];
beforeAll(async () => {
  captured = [
    ['node:tls, SNI', await captureClientHello({ servername: NAME }), NAME],
    ['node:tls, no SNI', await captureClientHello({ servername: '' }), null],
    ['node:tls, TLS 1.2 only, SNI', await captureClientHello({ servername: NAME, maxVersion: 'TLSv1.2' }), NAME],
    ['openssl, SNI', await opensslHello(['-servername', NAME]), NAME],
    ['openssl, no SNI', await opensslHello(['-noservername']), null],
    ['openssl, TLS 1.2, SNI', await opensslHello(['-tls1_2', '-servername', 'billing.example.com']), 'billing.example.com'],
  ];
}, 20_000);

describe('real ClientHellos', () => {
  test('each is TLS with its SNI', () => {
    for (const [name, bytes, sni] of captured) expect([name, detectProtocol(bytes)]).toEqual([name, { kind: 'tls', sni }]);
  });

  test('every proper prefix needs more', () => {
    for (const [name, bytes] of captured) {
      for (let n = 0; n < bytes.length; n++) {
        const d = detectProtocol(bytes.subarray(0, n));
        if (d.kind !== 'need-more') throw new Error(`${name}: prefix of ${n}/${bytes.length} bytes gave ${JSON.stringify(d)}`);
      }
    }
  });

  test.each([1, 2, 3, 4, 5, 40, 100, 511])('split across records of %i bytes: same answer, and need-more before the last byte', (size) => {
    for (const [name, bytes, sni] of captured) {
      const split = reframe(handshakeOf(bytes), size);
      expect([name, detectProtocol(split)]).toEqual([name, { kind: 'tls', sni }]);
      for (let n = 0; n < split.length; n++) {
        const d = detectProtocol(split.subarray(0, n));
        if (d.kind !== 'need-more') throw new Error(`${name} in ${size}-byte records: prefix ${n}/${split.length} gave ${JSON.stringify(d)}`);
      }
    }
  });

  test('bytes after the ClientHello (a second flight, early data) do not change the answer', () => {
    for (const [name, bytes, sni] of captured) {
      const more = Buffer.concat([bytes, record(Buffer.from('early'), 23), Buffer.from('trailing garbage')]);
      expect([name, detectProtocol(more)]).toEqual([name, { kind: 'tls', sni }]);
    }
  });
});

describe('detect() on a live socket', () => {
  async function detectOver(chunks: Buffer[], delayMs = 5): Promise<{ result: Awaited<ReturnType<typeof detect>>; replay: Buffer }> {
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    client.setNoDelay(true);
    const [socket] = (await once(server, 'connection')) as [Socket];
    try {
      const detected = detect(socket, 2000);
      for (const c of chunks) {
        client.write(c);
        await new Promise((r) => setTimeout(r, delayMs));
      }
      const result = await detected;
      // What detect() read must be readable again, in order, followed by the rest.
      client.end();
      const replay: Buffer[] = [];
      socket.on('data', (c: Buffer) => replay.push(c));
      socket.resume();
      await once(socket, 'end');
      return { result, replay: Buffer.concat(replay) };
    } finally {
      socket.destroy();
      client.destroy();
      server.close();
    }
  }

  test('a ClientHello written in 7-byte chunks is detected, and every byte is put back', async () => {
    const bytes = captured[0][1];
    const chunks: Buffer[] = [];
    for (let p = 0; p < bytes.length; p += 7) chunks.push(bytes.subarray(p, p + 7));
    const { result, replay } = await detectOver(chunks, 1);
    expect(result).toEqual({ kind: 'tls', sni: NAME });
    expect(replay.equals(bytes)).toBe(true);
  });

  test('a plaintext request is detected on its first byte and replayed whole', async () => {
    const req = Buffer.from('GET / HTTP/1.1\r\nHost: api\r\n\r\n');
    const { result, replay } = await detectOver([req.subarray(0, 1), req.subarray(1)]);
    expect(result).toEqual({ kind: 'plaintext' });
    expect(replay.equals(req)).toBe(true);
  });

  /** detect() on a server socket whose client sends `bytes` and then `close`s as told. */
  async function detectThenClose(bytes: Buffer, how: 'end' | 'reset') {
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    client.on('error', () => undefined);
    const [socket] = (await once(server, 'connection')) as [Socket];
    socket.on('error', () => undefined);
    try {
      const detected = detect(socket, 2000);
      client.write(bytes);
      if (how === 'end') client.end();
      else setTimeout(() => client.resetAndDestroy(), 20);
      return { result: await detected, socket };
    } finally {
      client.destroy();
      server.close();
    }
  }

  test('a partial ClientHello, then EOF, is plaintext and hands its bytes over (they cannot be unshifted after end)', async () => {
    const part = captured[0][1].subarray(0, 30);
    const { result, socket } = await detectThenClose(part, 'end');
    expect(result).toEqual({ kind: 'plaintext', replay: part });
    expect(socket.destroyed).toBe(false); // still writable: the app's answer can go back
    socket.destroy();
  });

  test('a partial ClientHello, then a reset, is closed, counting the bytes', async () => {
    const { result, socket } = await detectThenClose(captured[0][1].subarray(0, 30), 'reset');
    expect(result).toEqual({ kind: 'closed', bytes: 30 });
    socket.destroy();
  });

  test('EOF with nothing sent is closed after 0 bytes', async () => {
    const { result, socket } = await detectThenClose(Buffer.alloc(0), 'end');
    expect(result).toEqual({ kind: 'closed', bytes: 0 });
    socket.destroy();
  });

  test('silence is a timeout, and the socket stays usable for the caller to close', async () => {
    const server = createServer({ pauseOnConnect: true });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port });
    const [socket] = (await once(server, 'connection')) as [Socket];
    const started = performance.now();
    expect(await detect(socket, 100)).toEqual({ kind: 'timeout' });
    expect(performance.now() - started).toBeGreaterThanOrEqual(95);
    socket.destroy();
    client.destroy();
    server.close();
  });
});

describe('plaintext', () => {
  test.each<[string, Buffer]>([
    ['ok/http-get', Buffer.from('GET / HTTP/1.1\r\nHost: api\r\n\r\n')],
    ['ok/http-first-byte', Buffer.from('G')],
    ['ok/http2-preface', Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n')],
    ['ok/postgres-startup', Buffer.from([0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f])],
    ['ok/sslv2-compatible-hello', Buffer.from([0x80, 0x2e, 0x01, 0x03, 0x01])],
    ['ok/handshake-type-but-not-version-3', Buffer.from([0x16, 0x00, 0x01, 0x00, 0x10])],
    ['ok/alert-record', record(Buffer.from([2, 40]), 21)],
  ])('%s', (_name, bytes) => expect(detectProtocol(bytes)).toEqual({ kind: 'plaintext' }));

  test.each<[string, Buffer]>([
    ['ok/empty', Buffer.alloc(0)],
    ['ok/handshake-type-only', Buffer.from([0x16])],
    ['ok/type-and-major-version', Buffer.from([0x16, 0x03])],
    ['ok/record-header-without-body', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x40])],
  ])('%s needs more', (_name, bytes) => expect(detectProtocol(bytes)).toEqual({ kind: 'need-more' }));
});

describe('built ClientHellos', () => {
  const tls = (sni: string | null): Detection => ({ kind: 'tls', sni });
  test.each<[string, Buffer, Detection]>([
    ['ok/sni', record(hello([sniExt(NAME)])), tls(NAME)],
    ['ok/sni-after-other-extensions', record(hello([ext(10, Buffer.from([0, 2, 0, 0x1d])), ext(43, Buffer.from([2, 3, 4])), sniExt(NAME)])), tls(NAME)],
    ['ok/no-extensions', record(hello(null)), tls(null)],
    ['ok/empty-extension-block', record(hello([])), tls(null)],
    ['ok/extensions-without-sni', record(hello([ext(43, Buffer.from([2, 3, 4]))])), tls(null)],
    ['ok/record-version-tls12', record(hello([sniExt(NAME)]), 22, 0x0303), tls(NAME)],
    ['ok/largest-allowed', record(hello([sniExt(NAME), ext(21, Buffer.alloc(MAX_CLIENT_HELLO - hello([sniExt(NAME)]).length - 4))])), tls(NAME)],
  ])('%s', (_name, bytes, want) => expect(detectProtocol(bytes)).toEqual(want));
});

describe('malformed', () => {
  const bad = (reason: string): Detection => ({ kind: 'malformed', reason });
  const good = hello([sniExt(NAME)]);
  const withExtBlockLength = (n: number) => {
    const h = Buffer.from(good);
    h.writeUInt16BE(n, 4 + 2 + 32 + 1 + 2 + 2 + 2);
    return h;
  };
  test.each<[string, Buffer, Detection]>([
    ['fail/record-length-zero', Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), bad('bad record length 0')],
    ['fail/record-length-too-big', Buffer.from([0x16, 0x03, 0x01, 0x48, 0x01]), bad('bad record length 18433')],
    ['fail/server-hello-first', record(Buffer.concat([Buffer.from([2]), good.subarray(1)])), bad('first handshake message is type 2, not ClientHello')],
    ['fail/interrupted-by-application-data', Buffer.concat([record(good.subarray(0, 10)), record(good.subarray(10), 23)]), bad('ClientHello interrupted by a non-handshake record')],
    ['fail/interrupted-by-change-cipher-spec', Buffer.concat([record(good.subarray(0, 2)), record(Buffer.from([1]), 20)]), bad('ClientHello interrupted by a non-handshake record')],
    ['fail/hello-too-large', record(Buffer.concat([Buffer.from([1]), u24(65536), Buffer.alloc(16)])), bad('ClientHello of 65540 bytes is too large')],
    ['fail/just-over-the-limit', record(Buffer.concat([Buffer.from([1]), u24(MAX_CLIENT_HELLO - 3), Buffer.alloc(16)])), bad(`ClientHello of ${MAX_CLIENT_HELLO + 1} bytes is too large`)],
    ['fail/extensions-overrun-hello', record(withExtBlockLength(1000)), bad('extensions overrun the ClientHello')],
    ['fail/extension-overruns-block', record(hello([Buffer.concat([u16(0), u16(500), Buffer.alloc(8)])])), bad('extension overruns the extension block')],
    ['fail/session-id-overruns', record(hello(null, { sessionIdLength: 200 })), bad('truncated ClientHello')],
    ['fail/body-cut-short', record(Buffer.concat([Buffer.from([1]), u24(20), Buffer.alloc(20)])), bad('truncated ClientHello')],
    ['fail/sni-name-overruns-extension', record(hello([ext(0, Buffer.concat([u16(3 + 200), Buffer.from([0]), u16(200), Buffer.from(NAME)]))])), bad('malformed server_name extension')],
    ['fail/sni-list-overruns-extension', record(hello([ext(0, Buffer.concat([u16(500), Buffer.from([0]), u16(NAME.length), Buffer.from(NAME)]))])), bad('malformed server_name extension')],
    ['fail/sni-empty-extension', record(hello([ext(0, Buffer.alloc(0))])), bad('malformed server_name extension')],
    ['fail/sni-empty-name', record(hello([sniExt('')])), bad('malformed server_name extension')],
  ])('%s', (_name, bytes, want) => expect(detectProtocol(bytes)).toEqual(want));
});
