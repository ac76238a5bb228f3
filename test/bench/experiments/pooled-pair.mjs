// An experiment, not a transport: a proxy pair that reuses each mutual-TLS connection for one
// application connection after another, with a five-byte frame header instead of HTTP/2.
// It asks whether the multiplexed transport's gains under churn (no handshake per
// connection) can be had without its fixed-rate tail (each stream's trip through Node's
// HTTP/2 layer). README "Benchmarks" has what it measured.
//
//   node pooled-pair.mjs outbound 127.0.0.1:LISTEN 127.0.0.1:INBOUND   (plain in -> mTLS out)
//   node pooled-pair.mjs inbound  127.0.0.1:LISTEN 127.0.0.1:BACKEND   (mTLS in  -> plain out)
//
// Certificates come from the peers' environment (CA, CLIENT_CERT/KEY, SERVER_CERT/KEY,
// SERVER_NAME); `pooled-pair.env.sh` plugs it into ../shared/bench/peers as `custom`.
// Left out on purpose, since only speed is asked: policy, audit, limits, keepalive, idle
// timeouts, draining. A connection that ends uncleanly is closed, never reused.
//
// Frames: type (1 byte), payload length (4 bytes, big-endian), payload.
//   OPEN   client -> server, payload: the port (2 bytes); one stream at a time per connection
//   STATUS server -> client, payload: an HTTP-like status (2 bytes); 200 = connected
//   DATA   either way; payload delivered as it arrives, before the frame is complete
//   END    either way, empty: that direction is finished (FIN)
// After both ENDs the connection is idle: the client pools it, the server waits for OPEN.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { runPair } from './pair-cli.mjs';

const ALPN = 'lanyard.pooled.experiment';
const OPEN = 1, STATUS = 2, DATA = 3, END = 4;
const HEADER = 5;

const header = (type, length) => {
  const b = Buffer.allocUnsafe(HEADER);
  b[0] = type;
  b.writeUInt32BE(length, 1);
  return b;
};
const u16Frame = (type, n) => Buffer.concat([header(type, 2), Buffer.from([n >> 8, n & 255])]);

/** Reads frames off one TLS connection; `stream` gets DATA and END, `control` the rest. */
class FramedConnection {
  constructor(socket) {
    this.socket = socket;
    this.partial = null; // an incomplete header or control payload
    this.type = 0;
    this.left = 0; // payload bytes of the current frame still to come
    this.stream = null; // { data(buf), end() } while a stream is carried
    this.control = null; // (type, payload) => void
    socket.on('data', (b) => this.feed(b));
  }

  feed(b) {
    if (this.partial) {
      b = Buffer.concat([this.partial, b]);
      this.partial = null;
    }
    let at = 0;
    while (at < b.length) {
      if (this.left > 0 && this.type === DATA) {
        const n = Math.min(this.left, b.length - at);
        this.left -= n;
        this.stream?.data(b.subarray(at, at + n));
        at += n;
        continue;
      }
      const need = this.left > 0 ? this.left : HEADER;
      if (b.length - at < need) {
        this.partial = b.subarray(at);
        return;
      }
      if (this.left > 0) {
        const payload = b.subarray(at, at + this.left);
        at += this.left;
        this.left = 0;
        this.control?.(this.type, payload);
        continue;
      }
      this.type = b[at];
      this.left = b.readUInt32BE(at + 1);
      at += HEADER;
      if (this.left === 0 && this.type === END) this.stream?.end();
    }
  }
}

/**
 * Carries one application connection over `c` until both directions have ended; `done(true)`
 * then hands the connection back, `done(false)` after an unclean end (the caller closes it).
 * Backpressure both ways: a writer over its high-water mark pauses the other side's reader.
 */
function relay(app, c, done) {
  const s = c.socket;
  let sentEnd = false, gotEnd = false, over = false;
  const finish = (clean) => {
    if (over) return;
    over = true;
    c.stream = null;
    s.off('drain', resumeApp);
    s.off('close', dropApp);
    done(clean);
  };
  // Both ENDs crossed: no frame of this stream can follow, whatever the app socket still
  // has to flush, so the connection may carry the next stream at once.
  const settle = () => {
    if (sentEnd && gotEnd) finish(true);
  };
  const resumeApp = () => app.resume();
  // The connection lost mid-stream: the application's side goes with it.
  const dropApp = () => app.destroy();
  s.on('drain', resumeApp);
  s.once('close', dropApp);
  app.on('data', (b) => {
    s.cork();
    s.write(header(DATA, b.length));
    const room = s.write(b);
    s.uncork();
    if (!room) app.pause();
  });
  app.on('drain', () => s.resume());
  app.on('end', () => {
    s.write(header(END, 0));
    sentEnd = true;
    settle();
  });
  app.on('error', () => undefined);
  app.on('close', () => finish(sentEnd && gotEnd));
  c.stream = {
    data: (b) => {
      if (!app.write(b)) s.pause();
    },
    end: () => {
      gotEnd = true;
      app.end();
      settle();
    },
  };
  app.resume();
}

function outbound(listen, target, env) {
  const secureContext = tls.createSecureContext({ ca: readFileSync(env.CA), cert: readFileSync(env.CLIENT_CERT), key: readFileSync(env.CLIENT_KEY) });
  const idle = [];
  const handshake = () =>
    new Promise((resolve, reject) => {
      const s = tls.connect({ host: target.host, port: target.port, secureContext, servername: env.SERVER_NAME, ALPNProtocols: [ALPN] });
      s.setNoDelay(true);
      s.once('error', reject);
      s.once('secureConnect', () => {
        s.off('error', reject);
        s.on('error', () => undefined);
        resolve(new FramedConnection(s));
      });
    });
  // An idle connection the server closed meanwhile fails before STATUS: try a fresh one.
  const open = async () => {
    for (;;) {
      let c = idle.pop();
      if (c?.socket.destroyed) continue;
      const reused = c !== undefined;
      c ??= await handshake();
      const status = await new Promise((resolve) => {
        const gone = () => resolve(-1);
        c.socket.once('close', gone);
        c.control = (type, payload) => {
          if (type !== STATUS) return;
          c.socket.off('close', gone);
          resolve(payload.readUInt16BE(0));
        };
        c.socket.write(u16Frame(OPEN, target.port));
      });
      if (status === 200) return c;
      if (!(status === -1 && reused)) throw new Error(`upstream answered ${status}`);
    }
  };
  net
    .createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: true }, async (app) => {
      app.on('error', () => undefined);
      let c;
      try {
        c = await open();
      } catch {
        return app.destroy();
      }
      relay(app, c, (clean) => (clean ? idle.push(c) : c.socket.destroy()));
    })
    .listen(listen.port, listen.host);
}

function inbound(listen, target, env) {
  const server = tls.createServer(
    { ca: readFileSync(env.CA), cert: readFileSync(env.SERVER_CERT), key: readFileSync(env.SERVER_KEY), requestCert: true, rejectUnauthorized: true, ALPNProtocols: [ALPN] },
    (s) => {
      s.setNoDelay(true);
      s.on('error', () => undefined);
      const c = new FramedConnection(s);
      c.control = (type) => {
        if (type !== OPEN || c.stream) return s.destroy();
        c.stream = { data: () => undefined, end: () => undefined }; // until the app connects
        // As in explicit mode, every stream goes to the application's port, whatever it names.
        const app = net.connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true });
        app.once('error', () => (s.write(u16Frame(STATUS, 502)), (c.stream = null)));
        app.once('connect', () => {
          s.write(u16Frame(STATUS, 200));
          relay(app, c, (clean) => clean || s.destroy());
        });
      };
    },
  );
  server.on('tlsClientError', () => undefined).listen(listen.port, listen.host);
}

runPair('pooled-pair.mjs', { outbound, inbound });
