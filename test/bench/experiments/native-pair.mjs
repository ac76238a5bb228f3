// An experiment, not a transport: a proxy pair in which Node does each connection's
// mutual-TLS handshake and a native thread carries the bytes (native-relay/relay.c). It asks
// how far the pair's figures move once the data path leaves Node's streams, which the README
// names as the lever for the targets still missed. README "Benchmarks" has what it measured.
//
//   node native-pair.mjs outbound 127.0.0.1:LISTEN 127.0.0.1:INBOUND   (plain in -> mTLS out)
//   node native-pair.mjs inbound  127.0.0.1:LISTEN 127.0.0.1:BACKEND   (mTLS in  -> plain out)
//
// One TLS connection per application connection (the classic transport's shape), so churn
// pays a handshake each time. After the handshake, Node's TLS is used for one message each
// way and then let go:
//   server -> client  READY (1 byte, through TLS): the backend is connected; the server's
//                     Node TLS has stopped reading, and it writes nothing more through TLS
//   client            hands its sockets to the relay, whose first record is GO
//   server            its relay writes nothing until GO has opened
// So neither side's Node TLS can have read a byte of the other's records. Both relays take
// their keys from the TLS session's exporter (RFC 8446 §7.5), one per direction.
// Certificates come from the peers' environment (CA, CLIENT_CERT/KEY, SERVER_CERT/KEY,
// SERVER_NAME); `native-pair.env.sh` plugs it into ../shared/bench/peers as `custom`.
// Left out on purpose, since only speed is asked: policy, audit, limits, timeouts, draining.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const native = createRequire(import.meta.url)('./native-relay/build/Release/native_relay.node');
const ALPN = 'lanyard.native.experiment';
const LABEL = 'EXPORTER-lanyard-native-relay-experiment';
const READY = Buffer.from([1]);

const keys = (s) => {
  const k = s.exportKeyingMaterial(64, LABEL);
  return { clientToServer: k.subarray(0, 32), serverToClient: k.subarray(32) };
};
const fdOf = (socket) => socket._handle.fd;

/** Hands `app` and the TLS connection (over `raw`) to the relay and lets Node's sockets go. */
function handOff(app, raw, s, isClient) {
  const k = keys(s);
  s._handle.readStop();
  const [send, recv] = isClient ? [k.clientToServer, k.serverToClient] : [k.serverToClient, k.clientToServer];
  native.relay(fdOf(app), fdOf(raw), send, recv, isClient, (err) => {
    if (err && process.env.NATIVE_PAIR_DEBUG) console.error('relay ended with errno', err);
  });
  // Same turn: libuv cannot read from either fd between the dup and these closes.
  app.destroy();
  s.destroy();
  raw.destroy();
}

function outbound(listen, target, env) {
  const secureContext = tls.createSecureContext({ ca: readFileSync(env.CA), cert: readFileSync(env.CLIENT_CERT), key: readFileSync(env.CLIENT_KEY) });
  net
    .createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: true }, (app) => {
      app.on('error', () => undefined);
      const raw = net.connect({ host: target.host, port: target.port, noDelay: true });
      const s = tls.connect({ socket: raw, secureContext, servername: env.SERVER_NAME, ALPNProtocols: [ALPN] });
      const fail = () => (app.destroy(), s.destroy(), raw.destroy());
      s.once('error', fail);
      app.once('close', () => s.destroy());
      s.once('data', (b) => {
        if (!b.equals(READY)) return fail();
        s.off('error', fail);
        s.on('error', () => undefined);
        handOff(app, raw, s, true);
      });
    })
    .listen(listen.port, listen.host);
}

function inbound(listen, target, env) {
  const secureContext = tls.createSecureContext({ ca: readFileSync(env.CA), cert: readFileSync(env.SERVER_CERT), key: readFileSync(env.SERVER_KEY) });
  net
    .createServer({ noDelay: true }, (raw) => {
      raw.on('error', () => undefined);
      const s = new tls.TLSSocket(raw, { isServer: true, secureContext, requestCert: true, rejectUnauthorized: true, ALPNProtocols: [ALPN] });
      s.on('error', () => raw.destroy());
      s.once('secure', () => {
        s._handle.readStop();
        // A bare TLSSocket leaves the chain check to its owner, as tls.Server does it.
        if (s._handle.verifyError() !== null || !s.getPeerCertificate().raw) return s.destroy();
        const app = net.connect({ host: target.host, port: target.port, noDelay: true, allowHalfOpen: true });
        app.pause();
        app.once('error', () => s.destroy());
        app.once('connect', () => s.write(READY, () => handOff(app, raw, s, false)));
      });
    })
    .listen(listen.port, listen.host);
}

const [mode, listenAt, targetAt] = process.argv.slice(2);
const hostPort = (s) => ({ host: s.slice(0, s.lastIndexOf(':')), port: Number(s.slice(s.lastIndexOf(':') + 1)) });
if (mode === 'outbound') outbound(hostPort(listenAt), hostPort(targetAt), process.env);
else if (mode === 'inbound') inbound(hostPort(listenAt), hostPort(targetAt), process.env);
else {
  console.error('usage: native-pair.mjs outbound|inbound LISTEN_HOST:PORT TARGET_HOST:PORT');
  process.exit(2);
}
