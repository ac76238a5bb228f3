// An experiment, not a transport: a proxy pair in which Node does each connection's
// mutual-TLS handshake and a native thread carries the bytes (native-relay/relay.c). It asks
// how far the pair's figures move once the data path leaves Node's streams, which the README
// names as the lever for the targets still missed. README "Benchmarks" has what it measured.
//
//   node native-pair.mjs outbound 127.0.0.1:LISTEN 127.0.0.1:INBOUND   (plain in -> mTLS out)
//   node native-pair.mjs inbound  127.0.0.1:LISTEN 127.0.0.1:BACKEND   (mTLS in  -> plain out)
//
// Node's TLS is used for the handshake and one message, then let go:
//   server -> client  READY (1 byte, through TLS); the server's Node TLS has stopped reading
//                     and writes nothing more
//   client            hands both sockets to the relay, whose first record is OPEN
// So neither side's Node TLS can have read a byte of the other's records. Both relays take
// their keys from the TLS session's exporter (RFC 8446 §7.5), one per direction. After a
// stream the connection is pooled (client) or waits for the next OPEN (server), so churn
// pays a handshake only when no connection is idle; see native-relay/relay.c for the records.
// Certificates come from the peers' environment (CA, CLIENT_CERT/KEY, SERVER_CERT/KEY,
// SERVER_NAME); `native-pair.env.sh` plugs it into ../shared/bench/peers as `custom`.
// Left out on purpose, since only speed is asked: policy, audit, limits, timeouts, draining,
// retrying a stream whose pooled connection the server had closed.
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

function outbound(listen, target, env) {
  const secureContext = tls.createSecureContext({ ca: readFileSync(env.CA), cert: readFileSync(env.CLIENT_CERT), key: readFileSync(env.CLIENT_KEY) });
  net
    .createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: true }, (app) => {
      app.on('error', () => undefined);
      if (native.attach(fdOf(app))) return app.destroy();
      const raw = net.connect({ host: target.host, port: target.port, noDelay: true });
      const s = tls.connect({ socket: raw, secureContext, servername: env.SERVER_NAME, ALPNProtocols: [ALPN] });
      const fail = () => (app.destroy(), s.destroy(), raw.destroy());
      s.once('error', fail);
      app.once('close', () => s.destroy());
      s.once('data', (b) => {
        s._handle.readStop();
        if (!b.equals(READY)) return fail();
        const k = keys(s);
        native.connect(fdOf(app), fdOf(raw), k.clientToServer, k.serverToClient);
        // Same turn: libuv cannot read from either fd between the dup and these closes.
        s.off('error', fail);
        s.on('error', () => undefined);
        app.destroy(), s.destroy(), raw.destroy();
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
        const k = keys(s);
        s.write(READY, () => {
          // As in explicit mode, every stream goes to the application's port.
          native.serve(fdOf(raw), k.serverToClient, k.clientToServer, target.port);
          s.destroy(), raw.destroy();
        });
      });
    })
    .listen(listen.port, listen.host);
  if (env.NATIVE_PAIR_DEBUG) setInterval(() => console.error(JSON.stringify(native.stats())), 2000).unref();
}

const [mode, listenAt, targetAt] = process.argv.slice(2);
const hostPort = (s) => ({ host: s.slice(0, s.lastIndexOf(':')), port: Number(s.slice(s.lastIndexOf(':') + 1)) });
if (mode === 'outbound') outbound(hostPort(listenAt), hostPort(targetAt), process.env);
else if (mode === 'inbound') inbound(hostPort(listenAt), hostPort(targetAt), process.env);
else {
  console.error('usage: native-pair.mjs outbound|inbound LISTEN_HOST:PORT TARGET_HOST:PORT');
  process.exit(2);
}
