/**
 * Inbound (4143): peek at the first bytes within the detect timeout; a ClientHello for the
 * local identity is terminated with TLS 1.3 (client certificate optional, but verified to
 * the anchors when present); other TLS is passed through untouched; anything else is
 * plaintext. The policy for the target port then decides, and an allowed connection is
 * spliced to the application.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createSecureContext, type SecureContext, type TLSSocket } from 'node:tls';
import type { Logger } from '../../src/telemetry/logger.js';
import { ConnectionAudit, endpoint } from '../audit.js';
import { ConnectionLimit } from '../io/connection-limit.js';
import { ConnectionPipeline, type ProxiedConnection } from '../io/connection-pipeline.js';
import { drain } from '../io/drain.js';
import type { ProxyMetrics } from '../metrics.js';
import { MUX_ALPN } from '../mux/mux-protocol.js';
import type { Peer } from '../policy/peer.js';
import type { AnchorDrain } from '../tls/anchor-drain.js';
import { expiredReason, type TlsMaterial, type TlsState } from '../tls/tls-state.js';
import { detect, type DetectResult } from './detect.js';
import { MuxInbound } from './mux-inbound.js';
import { RelayInbound } from './relay-inbound.js';
import type { RelayHub } from '../relay/relay-hub.js';
import { RELAY_ALPN } from '../relay/relay-protocol.js';
import type { SessionPolicy } from './session-gate.js';
import { terminateTls } from './terminate-tls.js';

/** Where the application listens: the bytes go there, and the audit's `dst` says so. */
export interface InboundTarget {
  host: string;
  port: number;
}

export interface InboundProxyConfig {
  host: string;
  port: number;
  localIdentity: string;
  tls: TlsState;
  policy: { current(): SessionPolicy };
  /** The ports a mux session's streams may reach (explicit mode: the app port), or null for any. */
  streamPorts: () => number[] | null;
  /** The application target of an accepted socket, or an Error saying why there is none. */
  target: (socket: Socket) => InboundTarget | Error;
  /** The target of a multiplexed stream that names `port`, on a session made to `host` (see proxy/mux). */
  streamTarget: (port: number, host: string) => InboundTarget | Error;
  /** The proxy's own ports: a multiplexed stream may not loop back into them. */
  ownPorts: () => number[];
  /** Default 10s. */
  detectTimeoutMs?: number;
  /** Default 10s. */
  handshakeTimeoutMs?: number;
  /** Connect to the application. Default 5s. */
  connectTimeoutMs?: number;
  /** Default 1h. */
  idleTimeoutMs?: number;
  /** PING keepalive on mux sessions. Default 20s; 0 disables. */
  keepaliveMs?: number;
  /** Concurrent inbound connections, sessions and streams. Default 10,000. */
  maxConnections?: number;
  /** Slots only authenticated peers may take. Default a tenth of maxConnections. */
  authenticatedReserve?: number;
  audit: ConnectionAudit;
  metrics?: ProxyMetrics;
  logger: Logger;
  /** Sessions and connections of verified clients register here: removing an anchor drains theirs. */
  drain?: AnchorDrain;
  /** Serve the relay transport (proxy/relay) to clients that offer it; null or absent: not offered. */
  relay?: RelayHub | null;
}

export class InboundProxy {
  private server: Server | null = null;
  private serverContext: { generation: number; context: SecureContext } | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly pipeline: ConnectionPipeline;
  private readonly mux: MuxInbound;
  private readonly relay: RelayInbound | null;

  constructor(private readonly cfg: InboundProxyConfig) {
    this.pipeline = new ConnectionPipeline({
      direction: 'inbound',
      localIdentity: cfg.localIdentity,
      limit: new ConnectionLimit(cfg.maxConnections ?? 10_000, cfg.authenticatedReserve ?? Math.floor((cfg.maxConnections ?? 10_000) / 10)),
      audit: cfg.audit,
      metrics: cfg.metrics,
      connectTimeoutMs: cfg.connectTimeoutMs,
      idleTimeoutMs: cfg.idleTimeoutMs,
      track: (s) => this.track(s),
      drain: cfg.drain,
    });
    this.mux = new MuxInbound({
      policy: cfg.policy,
      streamPorts: cfg.streamPorts,
      streamTarget: cfg.streamTarget,
      ownPorts: cfg.ownPorts,
      pipeline: this.pipeline,
      sessionId: () => cfg.audit.sessionId(),
      handshakeTimeoutMs: cfg.handshakeTimeoutMs,
      keepaliveMs: cfg.keepaliveMs,
      idleTimeoutMs: cfg.idleTimeoutMs,
      metrics: cfg.metrics,
      drain: cfg.drain,
    });
    this.relay = cfg.relay
      ? new RelayInbound({
          hub: cfg.relay,
          policy: cfg.policy,
          streamPorts: cfg.streamPorts,
          streamTarget: cfg.streamTarget,
          ownPorts: cfg.ownPorts,
          pipeline: this.pipeline,
          sessionId: () => cfg.audit.sessionId(),
          handshakeTimeoutMs: cfg.handshakeTimeoutMs,
          drain: cfg.drain,
        })
      : null;
    // New anchors: sessions and connections whose clients no longer verify are drained
    // (tls/anchor-drain.ts); those still trusted carry on. A rotation of our own certificate
    // needs nothing: clients checked it when they connected.
  }

  async start(): Promise<{ host: string; port: number }> {
    // noDelay everywhere: a proxy must not add Nagle's delay to small request/response exchanges.
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (s) => this.accept(s));
    server.on('error', (e) => this.cfg.logger.error({ err: e }, 'inbound listener error'));
    await new Promise<void>((resolve, reject) => {
      server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`inbound listener ${this.cfg.host}:${this.cfg.port}: ${e.code ?? e.message}`)));
      server.listen(this.cfg.port, this.cfg.host, () => resolve());
    });
    this.server = server;
    const a = server.address() as { address: string; port: number };
    return { host: a.address, port: a.port };
  }

  /** Stops accepting; open connections get `graceMs` to finish, then are destroyed. */
  async stop(graceMs = 5000): Promise<void> {
    this.mux.closeAll();
    this.relay?.closeAll(true);
    const s = this.server;
    this.server = null;
    await drain(s ? [s] : [], this.sockets, graceMs);
    // The relay holds its own copy of each socket: what the grace left open is closed there.
    this.relay?.closeAll(false);
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private accept(socket: Socket): void {
    socket.on('error', () => undefined); // reported through the audit line
    const material = this.cfg.tls.current();
    if (!material) {
      this.cfg.metrics?.refusedEarly('inbound', 'no-identity');
      socket.destroy();
      return;
    }
    const target = this.cfg.target(socket);
    const conn = this.pipeline.begin({
      src: endpoint(socket.remoteAddress, socket.remotePort),
      dst: target instanceof Error ? endpoint(socket.localAddress, socket.localPort) : endpoint(target.host, target.port),
      port: target instanceof Error ? socket.localPort ?? 0 : target.port,
      tls: false,
      decision: 'deny',
      rule: 'detect',
      reason: '',
    });
    if (!conn.admit()) return void socket.destroy();
    this.track(socket);
    void this.handle(socket, material, target, conn).catch((e: Error) => {
      this.cfg.logger.error({ err: e }, 'inbound connection failed unexpectedly');
      socket.destroy();
      conn.close('internal-error');
    });
  }

  private async handle(socket: Socket, material: TlsMaterial, target: InboundTarget | Error, conn: ProxiedConnection): Promise<void> {
    const d = await detect(socket, this.cfg.detectTimeoutMs ?? 10_000);
    if (d.kind === 'timeout' || d.kind === 'closed') return this.undetected(socket, d, conn);
    const local = d.kind === 'tls' && d.sni === this.cfg.localIdentity;
    this.cfg.metrics?.detected(local ? 'tls-local' : d.kind === 'tls' ? 'tls-passthrough' : d.kind === 'malformed' ? 'malformed' : 'plaintext');
    const peerSide = local ? await this.terminate(socket, material, d, target, conn) : socket;
    if (!peerSide) return; // refused and audited, or now a multiplexed session
    // The peer is known: unauthenticated peers may not take the share kept for verified ones.
    if (!conn.classify(conn.record.peerIdentity !== null || conn.record.peerSpiffeId != null)) return void peerSide.destroy();
    if (target instanceof Error) {
      peerSide.destroy();
      conn.record.rule = 'target';
      return conn.close('no-target', target.message);
    }
    const peer: Peer = { tls: conn.record.tls, identity: conn.record.peerIdentity, spiffeId: conn.record.peerSpiffeId ?? null, address: socket.remoteAddress ?? '' };
    const decision = this.cfg.policy.current().authorize(peer, target.port);
    const passedThrough = d.kind === 'tls' && !local ? `TLS for ${d.sni ?? 'no SNI'} passed through; ` : '';
    if (!conn.decide(decision, passedThrough + decision.reason)) {
      peerSide.destroy();
      return conn.close('policy-deny');
    }
    await conn.carry({
      downstream: peerSide,
      dial: () => this.pipeline.dialTcp(target.host, target.port, peerSide),
      app: 'upstream',
      failed: (e) => ({ closeReason: `app-connect:${e.code ?? e.message}` }),
      // A peer that half-closed during detection: its bytes could not be put back on its socket.
      connected: 'replay' in d ? (app) => app.write(d.replay) : undefined,
    });
  }

  /**
   * Terminates TLS for the local identity: the TLS socket to carry, or null when the handshake
   * was refused (audited here) or the client chose the multiplexed transport (served as a session).
   */
  private async terminate(socket: Socket, material: TlsMaterial, hello: { mux?: true; relay?: true }, target: InboundTarget | Error, conn: ProxiedConnection): Promise<TLSSocket | null> {
    conn.record.tls = true;
    // Peers refuse an expired certificate anyway; refusing here names the cause in our audit.
    const expired = expiredReason(material.certificate);
    if (expired) {
      socket.destroy();
      conn.record.rule = 'tls';
      conn.close('local-cert-expired', expired);
      return null;
    }
    const t = await terminateTls(socket, {
      context: this.contextFor(material),
      offersMux: hello.mux === true,
      offersRelay: hello.relay === true && this.relay !== null,
      timeoutMs: this.cfg.handshakeTimeoutMs ?? 10_000,
    });
    if (!('tls' in t)) {
      conn.record.rule = 'tls';
      conn.close(t.closeReason, t.reason);
      return null;
    }
    this.cfg.metrics?.handshakeDone('inbound', t.seconds, t.resumed);
    conn.record.peerIdentity = t.identity;
    conn.record.peerSpiffeId = t.spiffeId;
    if (t.identity !== null || t.spiffeId !== null) conn.authenticatedBy = t.tls;
    conn.record.peerSerial = t.presented.serial;
    conn.record.peerIssuerFingerprint = t.presented.issuerFingerprint;
    const alpn = t.tls.alpnProtocol;
    if (alpn !== MUX_ALPN && alpn !== RELAY_ALPN) return t.tls;
    if (!conn.classify(t.identity !== null || t.spiffeId !== null)) {
      t.tls.destroy();
      return null;
    }
    const expiresAt = Math.min(material.certificate.notAfter.getTime(), t.notAfter?.getTime() ?? Infinity);
    const dstHost = target instanceof Error ? socket.localAddress ?? '' : target.host;
    const peer = { identity: t.identity, spiffeId: t.spiffeId, presented: t.presented, address: socket.remoteAddress ?? '', src: conn.record.src, dstHost, expiresAt };
    if (alpn === RELAY_ALPN) this.relay!.serve(t.tls, socket, peer, conn);
    else this.mux.serve(t.tls, peer, conn);
    return null;
  }

  private undetected(socket: Socket, d: Extract<DetectResult, { kind: 'timeout' | 'closed' }>, conn: ProxiedConnection): void {
    this.cfg.metrics?.detected(d.kind);
    socket.destroy();
    if (d.kind === 'timeout') return conn.close('detect-timeout', 'no protocol detected before the detect timeout');
    conn.close('peer-closed', d.bytes ? `closed after ${d.bytes} bytes, before the protocol was known` : 'closed before sending anything');
  }

  /** One server SecureContext per certificate generation, shared so TLS tickets resume. */
  private contextFor(material: TlsMaterial): SecureContext {
    if (this.serverContext?.generation !== material.generation) {
      this.serverContext = { generation: material.generation, context: createSecureContext(material.serverOptions) };
    }
    return this.serverContext.context;
  }
}
