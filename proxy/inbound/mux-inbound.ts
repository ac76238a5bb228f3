/**
 * The inbound side of the multiplexed transport: a TLS connection whose client selected
 * `lanyard.mux.v1` becomes an HTTP/2 session; each CONNECT stream on it is one application
 * connection, authorized and audited on its own exactly like a classic connection, with the
 * session's verified client identity as the peer.
 */
import { constants, performServerHandshake, type ServerHttp2Stream, type IncomingHttpHeaders, type ServerHttp2Session } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ConnectionRecord } from '../audit.js';
import { ConnectionAudit } from '../audit.js';
import { splice } from '../io/splice.js';
import type { ProxyMetrics } from '../metrics.js';
import { MUX_SESSION_WINDOW, MUX_SETTINGS, portOf } from '../mux/mux-protocol.js';
import type { Decision, Peer } from '../policy/peer.js';
import type { InboundTarget } from './inbound-proxy.js';

export interface MuxInboundConfig {
  localIdentity: string;
  policy: { current(): { authorize(peer: Peer, port: number): Decision } };
  /** Where a stream for `port` goes (explicit mode: the app port whatever the stream says). */
  streamTarget: (port: number) => InboundTarget | Error;
  /** Ports of the proxy itself: a stream may not loop back into them. */
  ownPorts: () => number[];
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
  /** Admits one more connection against the limit, or returns false. */
  admit: () => boolean;
  release: () => void;
  track: (s: Socket) => void;
  audit: ConnectionAudit;
  metrics?: ProxyMetrics;
}

export interface MuxPeer {
  identity: string | null;
  spiffeId: string | null;
  address: string;
  src: string;
  /** The address the session's connection was made to (its original destination when redirected). */
  dstHost: string;
}

export class MuxInbound {
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(private readonly cfg: MuxInboundConfig) {}

  /** Serves a mux session on a terminated TLS socket; `onClose` runs when it ends. */
  serve(tls: TLSSocket, peer: MuxPeer, onClose: () => void): void {
    // A TLSSocket made outside tls.Server keeps `secureConnecting` true after its handshake
    // (tls.Server clears it); HTTP/2 would wait for a 'secureConnect' that never comes.
    (tls as unknown as { secureConnecting: boolean }).secureConnecting = false;
    const session = performServerHandshake(tls, { settings: { ...MUX_SETTINGS, maxConcurrentStreams: 10_000 } });
    this.sessions.add(session);
    session.on('error', () => undefined);
    session.once('remoteSettings', () => session.setLocalWindowSize(MUX_SESSION_WINDOW));
    session.on('stream', (stream, headers) => this.stream(stream, headers, peer));
    session.once('close', () => {
      this.sessions.delete(session);
      onClose();
    });
  }

  /** Asks every session to finish its streams and close (certificate or anchors changed, or stop). */
  closeAll(): void {
    for (const s of this.sessions) s.close();
  }

  private stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, peer: MuxPeer): void {
    stream.on('error', () => undefined);
    const port = portOf(headers[':authority']);
    const target = port === null ? new Error(`stream :authority ${JSON.stringify(headers[':authority'])} names no port`) : this.cfg.streamTarget(port);
    const record: ConnectionRecord = {
      direction: 'inbound',
      localIdentity: this.cfg.localIdentity,
      peerIdentity: peer.identity,
      peerSpiffeId: peer.spiffeId,
      tls: true,
      src: peer.src,
      dst: target instanceof Error ? `${peer.dstHost}:${String(headers[':authority'])}` : `${peer.dstHost}:${port}`,
      port: target instanceof Error ? port ?? 0 : target.port,
      decision: 'deny',
      rule: 'mux',
      reason: '',
      rx: 0,
      tx: 0,
      startedAt: performance.now(),
      closeReason: '',
    };
    const refuse = (status: number, reason: string, closeReason: string) => {
      record.reason = reason;
      // A status, not a reset: REFUSED_STREAM would tell the client it may retry elsewhere.
      if (!stream.destroyed && !stream.headersSent) stream.respond({ [constants.HTTP2_HEADER_STATUS]: status }, { endStream: true });
      else stream.close(constants.NGHTTP2_CANCEL);
      this.cfg.audit.opened(record);
      record.closeReason = closeReason;
      this.cfg.audit.closed(record);
    };
    if (headers[':method'] !== 'CONNECT') return refuse(405, `stream method ${String(headers[':method'])} is not CONNECT`, 'protocol-error');
    if (target instanceof Error) return refuse(400, target.message, 'no-target');
    if (this.cfg.ownPorts().includes(target.port)) return refuse(403, `stream targets the proxy's own port ${target.port}: loop refused`, 'refused');
    if (!this.cfg.admit()) {
      this.cfg.metrics?.refusedEarly('inbound', 'limit');
      stream.respond({ [constants.HTTP2_HEADER_STATUS]: 503 }, { endStream: true });
      return;
    }
    const decision = this.cfg.policy.current().authorize({ tls: true, identity: peer.identity, spiffeId: peer.spiffeId, address: peer.address }, target.port);
    record.decision = decision.allow ? (decision.audit ? 'audit' : 'allow') : 'deny';
    record.rule = decision.rule;
    if (!decision.allow) {
      this.cfg.release();
      return refuse(403, decision.reason, 'policy-deny');
    }
    record.reason = decision.reason;
    this.cfg.audit.opened(record);
    const app = netConnect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    this.cfg.track(app);
    const timer = setTimeout(() => app.destroy(new Error('timeout')), this.cfg.connectTimeoutMs ?? 5000);
    const finish = (closeReason: string) => {
      this.cfg.release();
      record.rx = app.bytesWritten;
      record.tx = app.bytesRead;
      record.closeReason = closeReason;
      this.cfg.audit.closed(record);
    };
    app.once('connect', () => {
      clearTimeout(timer);
      if (stream.destroyed) {
        app.destroy();
        return finish('peer-closed');
      }
      stream.respond({ [constants.HTTP2_HEADER_STATUS]: 200 });
      void splice(app, stream, { idleTimeoutMs: this.cfg.idleTimeoutMs }).then((r) => finish(r.reason));
    });
    app.once('error', (e: NodeJS.ErrnoException) => {
      if (app.listenerCount('connect') === 0) return; // after connect: splice reports it
      clearTimeout(timer);
      if (!stream.destroyed && !stream.headersSent) stream.respond({ [constants.HTTP2_HEADER_STATUS]: 502 }, { endStream: true });
      finish(`app-connect:${e.code ?? e.message}`);
    });
  }
}
