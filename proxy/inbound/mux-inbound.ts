/**
 * The inbound side of the multiplexed transport: a TLS connection whose client selected
 * `lanyard.mux.v1` becomes an HTTP/2 session; each CONNECT stream on it is one application
 * connection, authorized and audited on its own exactly like a classic connection, with the
 * session's verified client identity as the peer.
 *
 * The session itself is a connection too: it holds a slot (unauthenticated sessions only from
 * their share), is audited (`mux_session`) and counted, is bounded by its guard (setup,
 * keepalive, idle, the peer leaving, certificate expiry), and is refused (its first stream is
 * answered 403, then GOAWAY) when the policy could never allow its peer a stream. Streams refused at the
 * limit are audited; a session repeating one refusal is logged in summary.
 */
import { constants, performServerHandshake, type ServerHttp2Stream, type IncomingHttpHeaders, type ServerHttp2Session } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { ConnectionPipeline, ProxiedConnection } from '../io/connection-pipeline.js';
import { SessionGuard } from '../io/session-guard.js';
import { markSecureConnected } from '../node-internals.js';
import type { ProxyMetrics } from '../metrics.js';
import { MUX_SESSION_WINDOW, MUX_SETTINGS, portOf } from '../mux/mux-protocol.js';
import type { AnchorDrain } from '../tls/anchor-drain.js';
import type { InboundTarget } from './inbound-proxy.js';
import { admitStream, peerOf, type SessionPeer } from './stream-admission.js';
import { sessionVerdict, type SessionPolicy } from './session-gate.js';

export interface MuxInboundConfig {
  policy: { current(): SessionPolicy };
  /** The ports a session's streams may reach (explicit mode: the app port), or null for any. */
  streamPorts: () => number[] | null;
  /** Where a stream for `port` goes (explicit mode: the app port whatever the stream says). */
  streamTarget: (port: number, host: string) => InboundTarget | Error;
  /** Ports of the proxy itself: a stream may not loop back into them. */
  ownPorts: () => number[];
  /** The inbound pipeline: streams share the inbound limit and audit with classic connections. */
  pipeline: ConnectionPipeline;
  /** A new session id, on the session's audit record and each of its streams'. */
  sessionId: () => string;
  /** The client's SETTINGS must arrive within this. Default 10s. */
  handshakeTimeoutMs?: number;
  /** PING keepalive: a silent client's session is dropped within this. Default 20s; 0 disables. */
  keepaliveMs?: number;
  /** A session with no stream open this long is closed. Default 1h; 0 disables. */
  idleTimeoutMs?: number;
  metrics?: ProxyMetrics;
  /** Sessions of verified clients register here: removing their anchor sends GOAWAY, then closes them. */
  drain?: AnchorDrain;
}

/** The peer of a mux session (the same shape as a relay session's). */
export type MuxPeer = SessionPeer;

export class MuxInbound {
  private readonly sessions = new Set<ServerHttp2Session>();

  constructor(private readonly cfg: MuxInboundConfig) {}

  /** Serves a mux session on a terminated TLS socket; `conn` (its slot and record) closes with it. */
  serve(tls: TLSSocket, peer: MuxPeer, conn: ProxiedConnection): void {
    markSecureConnected(tls);
    const verdict = sessionVerdict(this.cfg.policy.current(), peerOf(peer), this.cfg.streamPorts());
    const id = this.cfg.sessionId();
    conn.record.streams = 0;
    conn.record.session = id;
    conn.decide(verdict);
    const session = performServerHandshake(tls, { settings: { ...MUX_SETTINGS, maxConcurrentStreams: 10_000 } });
    this.sessions.add(session);
    const guard = new SessionGuard(session, {
      socket: tls,
      setupTimeoutMs: this.cfg.handshakeTimeoutMs ?? 10_000,
      keepaliveMs: this.cfg.keepaliveMs,
      // A refused session lives only long enough to answer its first stream.
      idleMs: verdict.allow ? this.cfg.idleTimeoutMs ?? 3_600_000 : this.cfg.handshakeTimeoutMs ?? 10_000,
      expiresAt: peer.expiresAt,
    });
    conn.hold();
    const authenticated = peer.identity !== null || peer.spiffeId !== null;
    const unregister = authenticated ? this.cfg.drain?.add({ direction: 'inbound', kind: 'session', tls, drain: () => session.close(), close: () => session.destroy() }) : undefined;
    session.on('error', () => undefined);
    session.once('remoteSettings', () => session.setLocalWindowSize(MUX_SESSION_WINDOW));
    session.on('stream', (stream, headers) => {
      guard.track(stream);
      conn.record.streams!++;
      this.stream(stream, headers, peer, id, authenticated ? tls : null);
      // Refused: the first stream is answered (403, so the client knows it is a decision and
      // does not retry), then the session goes away; one that sends nothing is idle-closed.
      if (!verdict.allow) session.close();
    });
    session.once('close', () => {
      unregister?.();
      this.sessions.delete(session);
      conn.record.rx = tls.bytesRead;
      conn.record.tx = tls.bytesWritten;
      conn.close(verdict.allow ? guard.ended ?? 'closed' : 'policy-deny');
    });
  }

  /** Asks every session to finish its streams and close (certificate or anchors changed, or stop). */
  closeAll(): void {
    for (const s of this.sessions) s.close();
  }

  /** `session`: the session's id, also the key its refusals are summarized under in the diagnostic log. */
  private stream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, peer: MuxPeer, session: string, authenticatedBy: TLSSocket | null): void {
    stream.on('error', () => undefined);
    const method = headers[':method'];
    const verdict = admitStream(this.cfg, {
      peer,
      session,
      transport: 'mux',
      port: portOf(headers[':authority']),
      authority: String(headers[':authority']),
      protocolError: method === 'CONNECT' ? undefined : `stream method ${String(method)} is not CONNECT`,
      authenticatedBy,
    });
    if (!verdict.allow) return answer(stream, verdict.status);
    const { conn, target } = verdict;
    void conn.carry({
      downstream: stream,
      dial: () => this.cfg.pipeline.dialTcp(target.host, target.port, stream),
      app: 'upstream',
      failed: (e) => ({ closeReason: `app-connect:${e.code ?? e.message}` }),
      abandon: () => answer(stream, 502),
      connected: () => stream.respond({ [constants.HTTP2_HEADER_STATUS]: 200 }),
    });
  }
}

/** A status, not a reset: REFUSED_STREAM would tell the client it may retry elsewhere. */
function answer(stream: ServerHttp2Stream, status: number): void {
  if (!stream.destroyed && !stream.headersSent) stream.respond({ [constants.HTTP2_HEADER_STATUS]: status }, { endStream: true });
  else stream.close(constants.NGHTTP2_CANCEL);
}
