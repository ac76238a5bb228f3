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
// What a sidecar does per stream is kept, so its cost is measured: the server asks
// JavaScript whether each stream may open (here: the peer's SPIFFE ID against an allow-list,
// the port policy's shape), and both sides write an audit record to stdout with one
// write(2) when a stream opens and when it ends, as Lanyard's audit sink does.
// NATIVE_PAIR_HOOKS=0 leaves JavaScript out of the streams (the relay alone).
// Left out on purpose: limits, timeouts, draining, the records' full field set, retrying a
// stream whose pooled connection the server had closed.
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { runPair } from './pair-cli.mjs';

const native = createRequire(import.meta.url)('./native-relay/build/Release/native_relay.node');
const ALPN = 'lanyard.native.experiment';
const LABEL = 'EXPORTER-lanyard-native-relay-experiment';
const READY = Buffer.from([1]);

const keys = (s) => {
  const k = s.exportKeyingMaterial(64, LABEL);
  return { clientToServer: k.subarray(0, 32), serverToClient: k.subarray(32) };
};
const fdOf = (socket) => socket._handle.fd;
const hooked = process.env.NATIVE_PAIR_HOOKS !== '0';
const audit = (record) => writeSync(1, `${JSON.stringify(record)}\n`);
const streams = new Map(); // token -> what its audit records say
let lastToken = 0;

function auditEnded(token, sent, received, failed) {
  const s = streams.get(token);
  if (!s) return;
  streams.delete(token);
  audit({ ts: new Date().toISOString(), event: 'close', ...s, sent, received, failed, duration_ms: Date.now() - s.at });
}

function outbound(listen, target, env) {
  const secureContext = tls.createSecureContext({ ca: readFileSync(env.CA), cert: readFileSync(env.CLIENT_CERT), key: readFileSync(env.CLIENT_KEY) });
  if (hooked) native.hooks(() => undefined, auditEnded);
  net
    .createServer({ noDelay: true, allowHalfOpen: true, pauseOnConnect: true }, (app) => {
      app.on('error', () => undefined);
      const token = ++lastToken;
      if (hooked) {
        const record = { src: `${app.remoteAddress}:${app.remotePort}`, dst: `${target.host}:${target.port}`, peer: env.SERVER_NAME, at: Date.now() };
        streams.set(token, record);
        audit({ ts: new Date(record.at).toISOString(), event: 'open', ...record });
      }
      if (native.attach(fdOf(app), token)) return app.destroy();
      const raw = net.connect({ host: target.host, port: target.port, noDelay: true });
      const s = tls.connect({ socket: raw, secureContext, servername: env.SERVER_NAME, ALPNProtocols: [ALPN] });
      let handedOff = false;
      // Before the hand-off, a failed handshake or an application that left ends the stream here.
      const fail = () => (auditEnded(token, 0, 0, true), app.destroy(), s.destroy(), raw.destroy());
      s.once('error', fail);
      app.once('close', () => handedOff || fail());
      s.once('data', (b) => {
        s._handle.readStop();
        if (!b.equals(READY)) return fail();
        const k = keys(s);
        native.connect(fdOf(app), fdOf(raw), k.clientToServer, k.serverToClient, token);
        handedOff = true;
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
  const allowed = new Set((env.NATIVE_PAIR_ALLOW ?? env.CLIENT_SPIFFE ?? '').split(',').filter(Boolean));
  const connections = new Map(); // connection token -> { peer, src }
  let lastConnection = 0;
  if (hooked) {
    native.hooks((token, connection) => {
      const c = connections.get(connection);
      const allow = c !== undefined && (allowed.size === 0 || allowed.has(c.peer));
      const record = { src: c?.src, dst: `${target.host}:${target.port}`, peer: c?.peer ?? 'unknown', at: Date.now() };
      audit({ ts: new Date(record.at).toISOString(), event: allow ? 'open' : 'deny', ...record });
      if (allow) streams.set(token, record);
      native.admit(token, allow);
    }, auditEnded);
  }
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
        const connection = ++lastConnection;
        const san = s.getPeerCertificate().subjectaltname ?? '';
        connections.set(connection, { peer: /URI:(spiffe:\/\/[^,]+)/.exec(san)?.[1] ?? 'none', src: `${raw.remoteAddress}:${raw.remotePort}` });
        s.write(READY, () => {
          // As in explicit mode, every stream goes to the application's port.
          native.serve(fdOf(raw), k.serverToClient, k.clientToServer, target.port, connection);
          s.destroy(), raw.destroy();
        });
      });
    })
    .listen(listen.port, listen.host);
  if (env.NATIVE_PAIR_DEBUG) setInterval(() => console.error(JSON.stringify(native.stats())), 2000).unref();
}

runPair('native-pair.mjs', { outbound, inbound });
