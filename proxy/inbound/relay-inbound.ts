/**
 * The inbound side of the relay transport (proxy/relay): a TLS connection whose client
 * selected `lanyard.relay.v1` is handed to the native relay, and each stream it opens is
 * authorized and audited here exactly like a mux stream (stream-admission.ts), then carried
 * by the relay to the application.
 *
 * The connection is a session, as a mux session is: it holds a slot, is audited
 * (`mux_session`, transport `relay`) and counted; it closes when it has been idle (the relay's
 * idle timeout), when its peer stops answering (the relay's keepalive), when either
 * certificate expires (gracefully: its current stream finishes), when its peer's anchor is
 * removed, and at shutdown. A session whose peer the policy could never allow answers its
 * first stream 403 and closes.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { timerDelay } from '../../src/util/duration.js';
import type { ConnectionPipeline, ProxiedConnection } from '../io/connection-pipeline.js';
import { RelayEnd } from '../native/index.js';
import { socketFd, stopTlsReading } from '../node-internals.js';
import type { RelayHub } from '../relay/relay-hub.js';
import { closedReason, endReason, errnoName, READY, relayKeys } from '../relay/relay-protocol.js';
import type { AnchorDrain } from '../tls/anchor-drain.js';
import type { InboundTarget } from './inbound-proxy.js';
import { sessionVerdict, type SessionPolicy } from './session-gate.js';
import { admitStream, peerOf, type SessionPeer } from './stream-admission.js';

export interface RelayInboundConfig {
  hub: RelayHub;
  policy: { current(): SessionPolicy };
  streamPorts: () => number[] | null;
  streamTarget: (port: number, host: string) => InboundTarget | Error;
  ownPorts: () => number[];
  pipeline: ConnectionPipeline;
  sessionId: () => string;
  /** A refused session's first stream must come within this. Default 10s. */
  handshakeTimeoutMs?: number;
  drain?: AnchorDrain;
}

export class RelayInbound {
  /** Live sessions: connection id -> close it (gracefully: its current stream finishes first). */
  private readonly sessions = new Map<number, (graceful: boolean) => void>();

  constructor(private readonly cfg: RelayInboundConfig) {}

  /** Hands a terminated TLS socket (and its TCP socket) to the relay; `conn` closes with it. */
  serve(tls: TLSSocket, socket: Socket, peer: SessionPeer, conn: ProxiedConnection): void {
    const { hub } = this.cfg;
    const verdict = sessionVerdict(this.cfg.policy.current(), peerOf(peer), this.cfg.streamPorts());
    const session = this.cfg.sessionId();
    conn.record.streams = 0;
    conn.record.session = session;
    conn.record.transport = 'relay';
    conn.decide(verdict);
    conn.hold();
    const authenticated = peer.identity !== null || peer.spiffeId !== null;
    let why: string | null = null; // set when we close it: expiry, an anchor drain
    let rx = 0;
    let tx = 0;
    const timers: NodeJS.Timeout[] = [];
    let unregister: (() => void) | undefined;
    const finish = (closeReason: string, streams: number) => {
      for (const t of timers) clearTimeout(t);
      unregister?.();
      this.sessions.delete(connection);
      tls.destroy();
      socket.destroy();
      conn.record.streams = streams;
      conn.record.rx = rx;
      conn.record.tx = tx;
      conn.close(verdict.allow ? why ?? closeReason : 'policy-deny');
    };
    const connection = hub.newConnection({
      decide: (stream, port) => {
        const v = admitStream(this.cfg, { peer, session, transport: 'relay', port: port > 0 ? port : null, authority: String(port), authenticatedBy: authenticated ? tls : null });
        // Refused: the first stream is answered (403), then the session goes away.
        if (!verdict.allow) hub.native.relayClose(connection, true);
        if (!v.allow) return hub.native.relayAdmit(stream, v.status, '', 0);
        hub.listen(stream, {
          started: () => v.conn.opened(),
          ended: (fromApp, toApp, reason, detail) => {
            rx += fromApp;
            tx += toApp;
            if (reason === RelayEnd.APP_CONNECT) return v.conn.close(`app-connect:${errnoName(detail)}`);
            v.conn.finished(toApp, fromApp, endReason(reason, detail));
          },
        });
        hub.native.relayAdmit(stream, 0, v.target.host, v.target.port);
      },
      closed: (reason, streams) => finish(closedReason(reason), streams),
    });
    const closeGracefully = (reason: string) => {
      why ??= reason;
      hub.native.relayClose(connection, true);
    };
    this.sessions.set(connection, (graceful) => (graceful ? closeGracefully('closed') : hub.native.relayClose(connection, false)));
    if (peer.expiresAt !== null) timers.push(setTimeout(() => closeGracefully('expired'), timerDelay(peer.expiresAt - Date.now())).unref());
    if (!verdict.allow) timers.push(setTimeout(() => hub.native.relayClose(connection, false), this.cfg.handshakeTimeoutMs ?? 10_000).unref());
    if (authenticated && this.cfg.drain) {
      unregister = this.cfg.drain.add({
        direction: 'inbound',
        kind: 'session',
        tls,
        drain: () => closeGracefully('anchor-removed'),
        close: () => ((why = 'anchor-removed:grace'), hub.native.relayClose(connection, false)),
      });
    }
    // The hand-off: Node's TLS stops reading, says READY, and lets go (relay-protocol.ts).
    stopTlsReading(tls);
    const keys = relayKeys(tls);
    tls.write(READY, (err) => {
      try {
        if (err || tls.destroyed) throw err ?? new Error('the peer left before READY');
        hub.native.relayServe(socketFd(socket), keys.serverToClient, keys.clientToServer, connection);
      } catch {
        hub.dropConnection(connection);
        finish('peer-left', 0);
      }
    });
  }

  /** Asks every session to finish its stream and close (stop), or, not graceful, closes them now. */
  closeAll(graceful: boolean): void {
    for (const close of this.sessions.values()) close(graceful);
  }

  get open(): number {
    return this.sessions.size;
  }
}
