/**
 * The native-relay experiment (test/bench/experiments/native-pair.mjs and native-relay/) is
 * measured against nginx, so its figures count only if it does the job: bytes intact both
 * ways, half-close carried, peer connections reused, a stream the server's decision refuses
 * never reaching the backend, and a flipped bit on the wire ending the stream instead of
 * reaching the application. Real processes on loopback, real mutual TLS (a test PKI made
 * here), a TCP forwarder between the two proxies that can corrupt what it carries.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../support/cli.js';
import { freePort, tryConnect, unusualLeaf, waitUntil } from '../support/mesh-harness.js';
import { requires } from '../support/requires.js';
import { createTestPki } from '../support/test-ca.js';

const experiments = join(ROOT, 'test/bench/experiments');
const CLIENT_ID = 'spiffe://test.local/ns/default/sa/frontend';
const SERVER_NAME = 'web.default.svc.test.local';

interface Proxy {
  child: ChildProcess;
  out: string;
  records(): Array<Record<string, unknown>>;
}

const native = requires('native addon');

native.describe('native relay experiment', () => {
  let dir: string;
  let echo: net.Server;
  let echoPort: number;
  const proxies: Proxy[] = [];
  const env: Record<string, string> = {};
  /** When set, the forwarder flips one bit in the next chunk it carries towards the inbound proxy. */
  let corruptNext = false;

  const start = async (mode: 'inbound' | 'outbound', listen: number, target: number, extra: Record<string, string> = {}): Promise<Proxy> => {
    const child = spawn(process.execPath, [join(experiments, 'native-pair.mjs'), mode, `127.0.0.1:${listen}`, `127.0.0.1:${target}`], {
      env: { ...process.env, ...env, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const p: Proxy = {
      child,
      out: '',
      records: () =>
        p.out
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
    };
    child.stdout!.on('data', (b: Buffer) => (p.out += b.toString()));
    child.stderr!.on('data', (b: Buffer) => process.stderr.write(`${mode}: ${b}`));
    proxies.push(p);
    await waitUntil(async () => (await tryConnect(listen)) === 'connected', `${mode} listening on ${listen}`);
    return p;
  };

  /** A forwarder between the proxies; `corruptNext` flips a bit towards the inbound side. */
  const forwarder = async (target: number): Promise<{ server: net.Server; port: number }> => {
    const server = net.createServer((a) => {
      const b = net.connect(target, '127.0.0.1');
      a.on('data', (chunk: Buffer) => {
        if (corruptNext && chunk.length > 8) {
          corruptNext = false;
          chunk = Buffer.from(chunk);
          chunk[chunk.length - 1] ^= 0x01; // inside the last record's ciphertext or tag
        }
        b.write(chunk);
      });
      b.pipe(a);
      a.on('end', () => b.end()).on('error', () => b.destroy());
      b.on('error', () => a.destroy());
    });
    server.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    return { server, port: (server.address() as net.AddressInfo).port };
  };
  let fwd: { server: net.Server; port: number };
  let outboundPort: number;
  let deniedPort: number;
  let inbound: Proxy;
  let denying: Proxy;

  /** Sends `data` through `port`, half-closes, and resolves with what came back and how it ended. */
  const exchange = (port: number, data: Buffer, beforeEnd?: (s: net.Socket) => Promise<void>) =>
    new Promise<{ back: Buffer; ended: 'end' | 'close' | 'error' }>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      const got: Buffer[] = [];
      let ended: 'end' | 'close' | 'error' | null = null;
      s.on('data', (b: Buffer) => got.push(b));
      s.once('end', () => (ended ??= 'end'));
      s.once('error', () => (ended ??= 'error'));
      s.once('close', () => resolve({ back: Buffer.concat(got), ended: ended ?? 'close' }));
      s.once('connect', async () => {
        s.write(data);
        if (beforeEnd) await beforeEnd(s);
        s.end();
      });
    });

  beforeAll(async () => {
    const relayDir = join(experiments, 'native-relay');
    const built = join(relayDir, 'build/Release/native_relay.node');
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(relayDir, 'relay.c')).mtimeMs) {
      const gyp = join(ROOT, 'node_modules/.bin/node-gyp');
      const args = ['rebuild', ...(existsSync('/usr/include/node/node_api.h') ? ['--nodedir=/usr'] : [])];
      execFileSync(gyp, args, { cwd: relayDir, stdio: 'pipe' });
    }
    dir = mkdtempSync(join(tmpdir(), 'native-relay-'));
    const pki = await createTestPki();
    const server = await unusualLeaf({ issuerCert: pki.issuerCert, issuerKey: pki.issuerKey, dns: [SERVER_NAME] });
    const client = await unusualLeaf({ issuerCert: pki.issuerCert, issuerKey: pki.issuerKey, uris: [CLIENT_ID] });
    writeFileSync(join(dir, 'ca.crt'), pki.anchor.certPem);
    for (const [name, leaf] of [['server', server], ['client', client]] as const) {
      writeFileSync(join(dir, `${name}.crt`), leaf.certPem + leaf.chainPem); // the chain, as a sidecar sends it
      writeFileSync(join(dir, `${name}.key`), leaf.keyPem, { mode: 0o600 });
    }
    Object.assign(env, {
      CA: join(dir, 'ca.crt'),
      CLIENT_CERT: join(dir, 'client.crt'),
      CLIENT_KEY: join(dir, 'client.key'),
      SERVER_CERT: join(dir, 'server.crt'),
      SERVER_KEY: join(dir, 'server.key'),
      SERVER_NAME,
      NATIVE_PAIR_ALLOW: CLIENT_ID,
    });
    // The backend echoes, and ends its side when the client has ended its own.
    echo = net.createServer({ allowHalfOpen: true }, (s) => {
      s.on('error', () => undefined); // a relay that ends a stream on a bad record resets it
      s.pipe(s);
    });
    echo.listen(0, '127.0.0.1');
    await new Promise((r) => echo.once('listening', r));
    echoPort = (echo.address() as net.AddressInfo).port;

    const inboundPort = await freePort();
    inbound = await start('inbound', inboundPort, echoPort);
    fwd = await forwarder(inboundPort);
    outboundPort = await freePort();
    await start('outbound', outboundPort, fwd.port);

    const denyingPort = await freePort();
    denying = await start('inbound', denyingPort, echoPort, { NATIVE_PAIR_ALLOW: 'spiffe://test.local/ns/default/sa/someone-else' });
    deniedPort = await freePort();
    await start('outbound', deniedPort, denyingPort);
  }, 60_000);

  afterAll(async () => {
    for (const p of proxies) p.child.kill('SIGKILL');
    await Promise.all(proxies.map((p) => (p.child.exitCode !== null || p.child.signalCode ? null : new Promise((r) => p.child.once('exit', r)))));
    await Promise.all([echo, fwd?.server].filter(Boolean).map((s) => new Promise((r) => s!.close(r))));
    rmSync(dir, { recursive: true, force: true });
  });

  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  test('8 MiB each way arrive intact, and the half-close comes back as an end', async () => {
    const data = randomBytes(8 * 1024 * 1024);
    const r = await exchange(outboundPort, data);
    expect({ length: r.back.length, sha: sha(r.back), ended: r.ended }).toEqual({ length: data.length, sha: sha(data), ended: 'end' });
  }, 30_000);

  test('connections one after another reuse one peer connection, each audited open and close with its bytes', async () => {
    // The inbound side writes a stream's close record once it has settled, which can be after
    // the client saw its end: start counting when every earlier stream has its close record.
    const count = (event: string) => inbound.records().filter((r) => r.event === event).length;
    await waitUntil(() => count('open') === count('close'), 'a close record for every earlier stream');
    const before = inbound.records().length;
    for (let i = 0; i < 20; i++) {
      const data = randomBytes(1000 + i);
      const r = await exchange(outboundPort, data);
      expect(r.back.equals(data)).toBe(true);
    }
    await waitUntil(() => inbound.records().length >= before + 40, '40 more inbound audit records');
    const recs = inbound.records().slice(before);
    const closes = recs.filter((r) => r.event === 'close');
    expect(recs.filter((r) => r.event === 'open')).toHaveLength(20);
    expect(closes.map((r) => [r.sent, r.received, r.failed])).toEqual(Array.from({ length: 20 }, (_, i) => [1000 + i, 1000 + i, false]));
    // Every stream came over the same TLS connection (the inbound side sees its source address).
    expect(new Set(recs.map((r) => r.src)).size).toBe(1);
    expect(recs.every((r) => r.peer === CLIENT_ID)).toBe(true);
  }, 30_000);

  test('a peer the allow-list does not name gets no backend: its stream is closed and audited as denied', async () => {
    const reached = new Promise<boolean>((resolve) => {
      const t = setTimeout(() => resolve(false), 1_000);
      echo.once('connection', () => (clearTimeout(t), resolve(true)));
    });
    const r = await exchange(deniedPort, Buffer.from('hello'));
    expect(r.back.length).toBe(0);
    await waitUntil(() => denying.records().some((x) => x.event === 'deny'), 'a deny record');
    expect(denying.records().find((x) => x.event === 'deny')).toMatchObject({ peer: CLIENT_ID });
    expect(await reached).toBe(false);
  }, 30_000);

  test('a flipped bit on the wire ends the stream: the application never gets the corrupted bytes', async () => {
    const first = randomBytes(4096);
    const second = randomBytes(4096);
    const r = await exchange(outboundPort, first, async (s) => {
      // The first chunk's echo proves the stream runs on the relay's records; then corrupt.
      let got = 0;
      await new Promise<void>((resolve) => {
        const on = (b: Buffer) => {
          got += b.length;
          if (got >= first.length) s.off('data', on), resolve();
        };
        s.on('data', on);
      });
      corruptNext = true;
      s.write(second);
    });
    expect(r.back.equals(first)).toBe(true); // what came back is exactly the untouched part
    await waitUntil(() => inbound.records().some((x) => x.event === 'close' && x.failed === true && x.sent === first.length), 'a failed close record');
    // The pair still works for the next connection (a new peer connection).
    const again = randomBytes(2048);
    expect((await exchange(outboundPort, again)).back.equals(again)).toBe(true);
  }, 30_000);
});
