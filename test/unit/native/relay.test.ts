/**
 * The native relay (proxy/native/src/relay.c) with real sockets on loopback: this process is
 * both the client and the server side of each peer connection (no TLS: the two random keys
 * are passed crosswise), with plain TCP pairs as application sockets and small backends.
 * Where a test needs the wire itself (tampering, a silent or vanishing server, the rekey
 * format) one side is `RecordPeer`, the record layer written again from the spec in TypeScript.
 *
 * relayInit is once per process, so the file shares one init with short timeouts and a
 * dispatcher that hands each DECIDE to the test owning the server connection. Client stream
 * ids start at 1e6 so they never meet the relay's own server stream ids (1, 2, ...).
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import net from 'node:net';
import { constants as os } from 'node:os';
import { nativeRelay, RelayClosed, RelayEnd, RelayEvent, socketFd, type NativeRelay } from '../../../proxy/native/index.js';
import { requires } from '../../support/requires.js';
import { until } from '../../support/until.js';

const OPTIONS = { idleMs: 4000, poolIdleMs: 1500, statusTimeoutMs: 800, connectTimeoutMs: 800, keepaliveMs: 1200, maxIdle: 64, rekeyAfterRecords: 50 };
const REC = { OPEN: 1, STATUS: 2, DATA: 3, END: 4, KEYUPDATE: 5, PING: 6, PONG: 7 } as const;
const MiB = 1024 * 1024;

interface LoggedEvent {
  kind: number;
  id: number;
  a: number;
  b: number;
  c: number;
  d: number;
}

const log: LoggedEvent[] = [];
/** DECIDE handlers by server connection id. */
const deciders = new Map<number, (stream: number, port: number) => void>();
let lastId = 1_000_000;
const nextId = () => ++lastId;

/** Sockets and servers of the running test, destroyed after it. */
const sockets: net.Socket[] = [];
const servers: net.Server[] = [];

async function event(kind: number, id: number, what: string, ms = 10_000): Promise<LoggedEvent> {
  await until(() => log.some((e) => e.kind === kind && e.id === id), what, ms);
  return log.find((e) => e.kind === kind && e.id === id)!;
}
const ended = (stream: number, ms?: number) => event(RelayEvent.ENDED, stream, `ENDED of stream ${stream}`, ms);
const closed = (connection: number, ms?: number) => event(RelayEvent.CLOSED, connection, `CLOSED of connection ${connection}`, ms);
const indexOf = (kind: number, id: number) => log.findIndex((e) => e.kind === kind && e.id === id);

async function listen(server: net.Server): Promise<number> {
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

/**
 * A loopback TCP connection. `accepted` never reads (pauseOnConnect), so its fd can go to the
 * relay; `dialer` reads unless `pauseDialer` (a paused socket does not start reading on connect).
 */
async function tcpPair(pauseDialer: boolean): Promise<{ dialer: net.Socket; accepted: net.Socket }> {
  const server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true });
  const port = await listen(server);
  const accepting = once(server, 'connection') as Promise<[net.Socket]>;
  const dialer = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  if (pauseDialer) dialer.pause();
  await once(dialer, 'connect');
  const [accepted] = await accepting;
  server.close();
  for (const s of [dialer, accepted]) {
    s.on('error', () => undefined); // resets are expected once the relay or a test ends a side
    sockets.push(s);
  }
  return { dialer, accepted };
}

/** An application connection: `user` is the test's end, `app` the relay's. */
async function appPair(): Promise<{ user: net.Socket; app: net.Socket }> {
  const { dialer, accepted } = await tcpPair(false);
  return { user: dialer, app: accepted };
}

function collect(s: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  s.on('data', (b: Buffer) => chunks.push(b));
  return once(s, 'end').then(() => Buffer.concat(chunks));
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A backend that reads the request to its end, then answers `reply(request)` and ends. */
async function backend(reply: (request: Buffer) => Buffer): Promise<{ port: number; requests: Buffer[] }> {
  const requests: Buffer[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on('error', () => undefined);
    sockets.push(s);
    void collect(s).then((request) => {
      requests.push(request);
      s.end(reply(request));
    });
  });
  return { port: await listen(server), requests };
}

/** A port with nothing listening. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  const port = await listen(server);
  await new Promise((r) => server.close(r));
  return port;
}

interface PeerConnection {
  clientConn: number;
  serverConn: number;
  poolKey: number;
  decisions: Array<{ stream: number; port: number }>;
  /** relayConnect for this connection's first stream. */
  connect(app: net.Socket, stream: number, port: number): void;
}

/** A peer connection between the relay's client and server sides; DECIDE goes to `decide`. */
function peerConnection(relay: NativeRelay, decide: (stream: number, port: number) => void): Promise<PeerConnection> {
  return tcpPair(true).then(({ dialer, accepted }) => {
    const k1 = randomBytes(32);
    const k2 = randomBytes(32);
    const conn: PeerConnection = {
      clientConn: nextId(),
      serverConn: nextId(),
      poolKey: nextId(),
      decisions: [],
      connect: (app, stream, port) => relay.relayConnect(socketFd(app), socketFd(dialer), k1, k2, conn.clientConn, conn.poolKey, stream, port),
    };
    deciders.set(conn.serverConn, (stream, port) => {
      conn.decisions.push({ stream, port });
      decide(stream, port);
    });
    relay.relayServe(socketFd(accepted), k2, k1, conn.serverConn);
    return conn;
  });
}

/**
 * The record layer from the spec, for a test's end of the wire: AES-256-GCM, the header as
 * additional data, the record count as nonce, and a KEYUPDATE after `rekeyAfter` records.
 */
class RecordPeer {
  private sendSeq = 0;
  private recvSeq = 0;
  private buffered = Buffer.alloc(0);

  constructor(
    private sendKey: Buffer,
    private recvKey: Buffer,
    private readonly rekeyAfter = OPTIONS.rekeyAfterRecords,
  ) {}

  seal(type: number, plain: Buffer = Buffer.alloc(0), opts: { flipBit?: boolean } = {}): Buffer {
    const out = [this.sealOne(type, plain, opts.flipBit ?? false)];
    if (++this.sendSeq >= this.rekeyAfter) {
      out.push(this.sealOne(REC.KEYUPDATE, Buffer.alloc(0), false));
      this.sendKey = RecordPeer.nextKey(this.sendKey);
      this.sendSeq = 0;
    }
    return Buffer.concat(out);
  }

  /** The records completed by `chunk` (KEYUPDATE applied and left out); throws when one fails to open. */
  receive(chunk: Buffer): Array<{ type: number; plain: Buffer }> {
    this.buffered = Buffer.concat([this.buffered, chunk]);
    const records: Array<{ type: number; plain: Buffer }> = [];
    while (this.buffered.length >= 4) {
      const len = this.buffered.readUIntBE(1, 3);
      if (this.buffered.length < 4 + len) break;
      const header = this.buffered.subarray(0, 4);
      const body = this.buffered.subarray(4, 4 + len - 16);
      const d = createDecipheriv('aes-256-gcm', this.recvKey, RecordPeer.nonce(this.recvSeq++));
      d.setAAD(header);
      d.setAuthTag(this.buffered.subarray(4 + len - 16, 4 + len));
      const plain = Buffer.concat([d.update(body), d.final()]);
      const type = header[0];
      this.buffered = this.buffered.subarray(4 + len);
      if (type === REC.KEYUPDATE) {
        this.recvKey = RecordPeer.nextKey(this.recvKey);
        this.recvSeq = 0;
      } else {
        records.push({ type, plain });
      }
    }
    return records;
  }

  private sealOne(type: number, plain: Buffer, flipBit: boolean): Buffer {
    const header = Buffer.from([type, 0, 0, 0]);
    header.writeUIntBE(plain.length + 16, 1, 3);
    const c = createCipheriv('aes-256-gcm', this.sendKey, RecordPeer.nonce(this.sendSeq));
    c.setAAD(header);
    const record = Buffer.concat([header, c.update(plain), c.final(), c.getAuthTag()]);
    if (flipBit) record[record.length - 1] ^= 0x01;
    return record;
  }

  private static nonce(seq: number): Buffer {
    const iv = Buffer.alloc(12);
    iv.writeBigUInt64BE(BigInt(seq), 4);
    return iv;
  }

  private static nextKey(key: Buffer): Buffer {
    return createHmac('sha256', key).update('lanyard relay key update').digest();
  }
}

const u16 = (n: number) => Buffer.from([n >> 8, n & 0xff]);

/** A client connection whose server end is the test's: `wire` is that raw socket, read by `peer`. */
async function clientWithRawServer(relay: NativeRelay, stream: number, port: number) {
  const { dialer, accepted } = await tcpPair(true);
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const conn = nextId();
  const { user, app } = await appPair();
  const peer = new RecordPeer(k2, k1);
  relay.relayConnect(socketFd(app), socketFd(dialer), k1, k2, conn, nextId(), stream, port);
  return { conn, user, app, wire: accepted, peer };
}

const native = requires('native addon');

native.describe('native relay', () => {
  let relay: NativeRelay;

  beforeAll(() => {
    const found = nativeRelay();
    if (!found) throw new Error('the native addon has no relay: it is stale, rebuild it with `node proxy/native/build.mjs`');
    relay = found;
    relay.relayInit((kind, id, a, b, c, d) => {
      log.push({ kind, id, a, b, c, d });
      if (kind === RelayEvent.DECIDE) deciders.get(a)?.(id, b);
    }, OPTIONS);
  });

  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  test('relayInit is once per process', () => {
    expect(() => relay.relayInit(() => undefined, {})).toThrow(expect.objectContaining({ name: 'TypeError' }));
  });

  test('bytes arrive intact both ways with half-close, exact byte counts, and OPEN carries the port to DECIDE', async () => {
    const request = randomBytes(4 * MiB);
    const response = randomBytes(3 * MiB + 17);
    const app = await backend(() => response);
    const rekeysBefore = relay.relayStats().rekeys;
    const conn = await peerConnection(relay, (stream) => relay.relayAdmit(stream, 0, '127.0.0.1', app.port));
    const pair = await appPair();
    const stream = nextId();
    const received = collect(pair.user);
    conn.connect(pair.app, stream, 8443);
    pair.user.end(request);

    const clientEnd = await ended(stream);
    expect(sha(await received)).toBe(sha(response));
    expect(sha(app.requests[0])).toBe(sha(request));
    expect(conn.decisions).toEqual([{ stream: expect.any(Number), port: 8443 }]);
    const decide = log.find((e) => e.kind === RelayEvent.DECIDE && e.a === conn.serverConn)!;
    expect(decide).toMatchObject({ id: conn.decisions[0].stream, b: 8443 });
    expect(clientEnd).toMatchObject({ a: request.length, b: response.length, c: RelayEnd.DONE });
    const serverEnd = await ended(conn.decisions[0].stream);
    expect(serverEnd).toMatchObject({ a: response.length, b: request.length, c: RelayEnd.DONE });
    expect(log.some((e) => e.kind === RelayEvent.STARTED && e.id === stream)).toBe(true);
    // Thousands of records each way against rekeyAfterRecords 50: every direction rekeyed.
    expect(relay.relayStats().rekeys).toBeGreaterThanOrEqual(rekeysBefore + 4);
  });

  test('a second stream reuses the pooled connection (relayAttach returns its id)', async () => {
    const app = await backend((req) => req);
    const conn = await peerConnection(relay, (stream) => relay.relayAdmit(stream, 0, '127.0.0.1', app.port));
    const first = await appPair();
    const firstStream = nextId();
    const firstEcho = collect(first.user);
    conn.connect(first.app, firstStream, 80);
    first.user.end('one');
    expect((await firstEcho).toString()).toBe('one');
    expect(await ended(firstStream)).toMatchObject({ c: RelayEnd.DONE });

    const second = await appPair();
    const secondStream = nextId();
    const secondEcho = collect(second.user);
    expect(relay.relayAttach(socketFd(second.app), conn.poolKey, secondStream, 81)).toBe(conn.clientConn);
    second.user.end('two');
    expect((await secondEcho).toString()).toBe('two');
    expect(await ended(secondStream)).toMatchObject({ a: 3, b: 3, c: RelayEnd.DONE });
    expect(conn.decisions.map((d) => d.port)).toEqual([80, 81]);
    expect(relay.relayAttach(socketFd(second.app), nextId(), nextId(), 80)).toBe(0); // another pool is empty
  });

  test('relayAdmit with 403 refuses the stream: client REFUSED 403, server DENIED 403, the connection is pooled', async () => {
    const conn = await peerConnection(relay, (stream) => relay.relayAdmit(stream, 403, '', 0));
    const pair = await appPair();
    const stream = nextId();
    const userSaw = collect(pair.user);
    conn.connect(pair.app, stream, 80);
    expect(await ended(stream)).toMatchObject({ a: 0, b: 0, c: RelayEnd.REFUSED, d: 403 });
    expect(await ended(conn.decisions[0].stream)).toMatchObject({ c: RelayEnd.DENIED, d: 403 });
    expect((await userSaw).length).toBe(0); // its socket was shut down
    await until(() => relay.relayStats().idle > 0, 'the refused stream’s connection back in its pool');
    expect(relay.relayAttach(socketFd(pair.app), conn.poolKey, nextId(), 80)).toBe(conn.clientConn);
  });

  test('an application that refuses the connect: server APP_CONNECT ECONNREFUSED, client REFUSED 502', async () => {
    const port = await closedPort();
    const conn = await peerConnection(relay, (stream) => relay.relayAdmit(stream, 0, '127.0.0.1', port));
    const pair = await appPair();
    const stream = nextId();
    conn.connect(pair.app, stream, 80);
    expect(await ended(stream)).toMatchObject({ c: RelayEnd.REFUSED, d: 502 });
    expect(await ended(conn.decisions[0].stream)).toMatchObject({ c: RelayEnd.APP_CONNECT, d: os.errno.ECONNREFUSED });
  });

  test('relayAdmit rejects a host that is not an address literal', () => {
    expect(() => relay.relayAdmit(1, 0, 'localhost', 80)).toThrow(expect.objectContaining({ name: 'TypeError' }));
  });

  test('the wire follows the spec: OPEN carries the port, and records stay intact across KEYUPDATEs both ways', async () => {
    const stream = nextId();
    const { conn, user, wire, peer } = await clientWithRawServer(relay, stream, 9090);
    const upload = randomBytes(2 * MiB);
    const download = randomBytes(120 * 1000);
    const uploaded: Buffer[] = [];
    let opened = false;
    let clientEnded = false;
    const rekeysBefore = relay.relayStats().rekeys;
    wire.on('data', (chunk: Buffer) => {
      for (const r of peer.receive(chunk)) {
        if (r.type === REC.OPEN) {
          expect(r.plain).toEqual(u16(9090));
          opened = true;
          const out = [peer.seal(REC.STATUS, u16(0))];
          for (let i = 0; i < 120; i++) out.push(peer.seal(REC.DATA, download.subarray(i * 1000, (i + 1) * 1000)));
          out.push(peer.seal(REC.END));
          wire.write(Buffer.concat(out));
        } else if (r.type === REC.DATA) {
          uploaded.push(r.plain);
        } else if (r.type === REC.END) {
          clientEnded = true;
        }
      }
    });
    wire.resume();
    const downloaded = collect(user);
    user.end(upload);
    expect(sha(await downloaded)).toBe(sha(download));
    await until(() => clientEnded, 'the client’s END');
    expect(opened).toBe(true);
    expect(sha(Buffer.concat(uploaded))).toBe(sha(upload));
    expect(await ended(stream)).toMatchObject({ a: upload.length, b: download.length, c: RelayEnd.DONE });
    expect(relay.relayStats().rekeys).toBeGreaterThanOrEqual(rekeysBefore + 2); // sealing and opening
    relay.relayClose(conn, false);
    expect(await closed(conn)).toMatchObject({ a: RelayClosed.CLOSED_BY_CALLER, b: 1 });
  });

  test('a flipped bit ends the stream BAD_RECORD and closes the connection BAD_RECORD', async () => {
    const stream = nextId();
    const { conn, user, wire, peer } = await clientWithRawServer(relay, stream, 80);
    const received: Buffer[] = [];
    user.on('data', (b: Buffer) => received.push(b));
    wire.on('data', (chunk: Buffer) => {
      for (const r of peer.receive(chunk)) {
        if (r.type === REC.OPEN) wire.write(Buffer.concat([peer.seal(REC.STATUS, u16(0)), peer.seal(REC.DATA, Buffer.from('intact'))]));
      }
    });
    wire.resume();
    await until(() => Buffer.concat(received).toString() === 'intact', 'the intact record delivered');
    wire.write(peer.seal(REC.DATA, Buffer.from('tampered'), { flipBit: true }));
    expect(await ended(stream)).toMatchObject({ c: RelayEnd.BAD_RECORD, b: 6 });
    expect(await closed(conn)).toMatchObject({ a: RelayClosed.BAD_RECORD });
    expect(indexOf(RelayEvent.ENDED, stream)).toBeLessThan(indexOf(RelayEvent.CLOSED, conn));
    expect(Buffer.concat(received).toString()).toBe('intact');
  });

  test('an idle pooled connection is closed IDLE after poolIdleMs', async () => {
    const app = await backend((req) => req);
    const conn = await peerConnection(relay, (stream) => relay.relayAdmit(stream, 0, '127.0.0.1', app.port));
    const pair = await appPair();
    const stream = nextId();
    const echo = collect(pair.user);
    conn.connect(pair.app, stream, 80);
    pair.user.end('x');
    await echo;
    await ended(stream);
    const pooledAt = Date.now();
    expect(await closed(conn.clientConn)).toMatchObject({ a: RelayClosed.IDLE, b: 1 });
    expect(Date.now() - pooledAt).toBeGreaterThanOrEqual(OPTIONS.poolIdleMs - 300);
    expect(relay.relayAttach(socketFd(pair.app), conn.poolKey, nextId(), 80)).toBe(0);
  });

  test('relayDropPool closes the idle connections of that pool only', async () => {
    const app = await backend((req) => req);
    const admit = (stream: number) => relay.relayAdmit(stream, 0, '127.0.0.1', app.port);
    const [dropped, kept] = await Promise.all([peerConnection(relay, admit), peerConnection(relay, admit)]);
    for (const conn of [dropped, kept]) {
      const pair = await appPair();
      const stream = nextId();
      const echo = collect(pair.user);
      conn.connect(pair.app, stream, 80);
      pair.user.end('x');
      await echo;
      await ended(stream);
    }
    relay.relayDropPool(dropped.poolKey);
    expect(await closed(dropped.clientConn)).toMatchObject({ a: RelayClosed.CLOSED_BY_CALLER, b: 1 });
    const probe = await appPair();
    expect(relay.relayAttach(socketFd(probe.app), dropped.poolKey, nextId(), 80)).toBe(0);
    const stream = nextId();
    expect(relay.relayAttach(socketFd(probe.app), kept.poolKey, stream, 80)).toBe(kept.clientConn);
    relay.relayClose(kept.clientConn, false);
    expect(await ended(stream)).toMatchObject({ c: RelayEnd.CLOSED });
  });

  test('relayClose(graceful) while a stream runs: the stream finishes DONE, then the connection closes', async () => {
    const app = await backend((req) => req);
    const conn = await peerConnection(relay, (stream) => relay.relayAdmit(stream, 0, '127.0.0.1', app.port));
    const pair = await appPair();
    const stream = nextId();
    const echo = collect(pair.user);
    conn.connect(pair.app, stream, 80);
    await event(RelayEvent.STARTED, stream, 'STARTED');
    relay.relayClose(conn.clientConn, true);
    pair.user.end('after the close');
    expect((await echo).toString()).toBe('after the close');
    expect(await ended(stream)).toMatchObject({ c: RelayEnd.DONE });
    expect(await closed(conn.clientConn)).toMatchObject({ a: RelayClosed.CLOSED_BY_CALLER, b: 1 });
    expect(indexOf(RelayEvent.ENDED, stream)).toBeLessThan(indexOf(RelayEvent.CLOSED, conn.clientConn));
    expect(relay.relayAttach(socketFd(pair.app), conn.poolKey, nextId(), 80)).toBe(0); // it never returned to the pool
    expect(await closed(conn.serverConn)).toMatchObject({ a: RelayClosed.PEER_CLOSED });
  });

  test('relayClose(hard) kills a running stream: ENDED CLOSED, the server side PEER_CLOSED', async () => {
    const app = await backend((req) => req);
    const conn = await peerConnection(relay, (stream) => relay.relayAdmit(stream, 0, '127.0.0.1', app.port));
    const pair = await appPair();
    const stream = nextId();
    const userSaw = collect(pair.user);
    conn.connect(pair.app, stream, 80);
    await event(RelayEvent.STARTED, stream, 'STARTED');
    relay.relayClose(conn.clientConn, false);
    expect(await ended(stream)).toMatchObject({ c: RelayEnd.CLOSED });
    expect(await closed(conn.clientConn)).toMatchObject({ a: RelayClosed.CLOSED_BY_CALLER });
    await userSaw; // the app socket was shut down, not left open
    expect(await ended(conn.decisions[0].stream)).toMatchObject({ c: RelayEnd.PEER_CLOSED });
    expect(await closed(conn.serverConn)).toMatchObject({ a: RelayClosed.PEER_CLOSED });
  });

  test('keepalive: a peer that never reads or answers is killed KEEPALIVE within about keepaliveMs', async () => {
    const { dialer, accepted } = await tcpPair(true); // dialer: the silent peer, held and ignored
    const conn = nextId();
    const pingsBefore = relay.relayStats().pings;
    const since = Date.now();
    relay.relayServe(socketFd(accepted), randomBytes(32), randomBytes(32), conn);
    // The PING goes after keepaliveMs/2 of silence, the kill keepaliveMs later; timers sweep every 250 ms.
    expect(await closed(conn, 1.5 * OPTIONS.keepaliveMs + 1500)).toMatchObject({ a: RelayClosed.KEEPALIVE, b: 0 });
    expect(Date.now() - since).toBeGreaterThanOrEqual(1.5 * OPTIONS.keepaliveMs - 300);
    expect(relay.relayStats().pings).toBeGreaterThan(pingsBefore);
    expect(dialer.readableLength).toBe(0); // it really never read
  });

  test('STATUS_TIMEOUT when the server never answers OPEN', async () => {
    const stream = nextId();
    const { conn, user } = await clientWithRawServer(relay, stream, 80);
    const userSaw = collect(user);
    expect(await ended(stream)).toMatchObject({ c: RelayEnd.STATUS_TIMEOUT });
    expect(await closed(conn)).toMatchObject({ a: RelayClosed.STREAM_FAILED });
    await userSaw; // a failed stream's app socket is shut down
  });

  test('RETRY when the server end closes right after OPEN; the app socket is left open for a new dial', async () => {
    const stream = nextId();
    const { conn, user, app, wire, peer } = await clientWithRawServer(relay, stream, 7070);
    let userEnded = false;
    const received: Buffer[] = [];
    user.on('end', () => (userEnded = true));
    user.on('data', (b: Buffer) => received.push(b));
    wire.on('data', (chunk: Buffer) => {
      for (const r of peer.receive(chunk)) if (r.type === REC.OPEN && r.plain.equals(u16(7070))) wire.destroy();
    });
    wire.resume();
    expect(await ended(stream)).toMatchObject({ a: 0, b: 0, c: RelayEnd.RETRY });
    expect(await closed(conn)).toMatchObject({ a: RelayClosed.PEER_CLOSED, b: 1 });
    // Had the relay shut the socket down, its FIN would reach the user before these bytes.
    app.write('still open');
    await until(() => Buffer.concat(received).toString() === 'still open', 'bytes over the app socket after RETRY');
    expect(userEnded).toBe(false);
  });
});
