/**
 * Outbound: the app's connections, accepted on a route's listen address (explicit mode), are
 * carried to the upstream in TLS 1.3 with SNI = the expected identity, presenting the
 * workload certificate; the server's chain must verify to the anchors and its SANs must
 * include the expected identity, or the connection is refused and audited. Unmeshed routes
 * are plain TCP, or refused when unmeshed traffic is denied.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket, type PeerCertificate } from 'node:tls';
import type { Logger } from '../../src/telemetry/logger.js';
import { ConnectionAudit, endpoint } from '../audit.js';
import { ConnectionLimit } from '../io/connection-limit.js';
import { ConnectionPipeline, type ConnectFailure, type ProxiedConnection } from '../io/connection-pipeline.js';
import type { SpliceEnd } from '../io/splice.js';
import type { ProxyMetrics } from '../metrics.js';
import { parseSubjectAltName, provePeer } from '../tls/peer-identity.js';
import type { AnchorDrain } from '../tls/anchor-drain.js';
import { expiredReason, type TlsState } from '../tls/tls-state.js';
import { fmt, type HostPort, type Route } from './routes.js';
import { drain } from '../io/drain.js';
import { MuxClient } from '../mux/mux-client.js';
import { RelayClient } from '../relay/relay-client.js';
import type { RelayHub } from '../relay/relay-hub.js';

export interface OutboundProxyConfig {
  /** Routes with a `listen` address get a listener each. */
  routes: Route[];
  localIdentity: string;
  tls: TlsState;
  /** Unmeshed routes: plain TCP (`allow`, the default) or refused (`deny`). */
  unmeshed?: 'allow' | 'deny';
  /** TCP connect timeout to the upstream. Default 5s. */
  connectTimeoutMs?: number;
  /** TLS handshake timeout. Default 10s. */
  handshakeTimeoutMs?: number;
  /** Default 1h. */
  idleTimeoutMs?: number;
  /** PING keepalive on mux sessions: a silent upstream is replaced within this. Default 20s; 0 disables. */
  keepaliveMs?: number;
  /** Concurrent outbound connections. Default 10,000. */
  maxConnections?: number;
  /** Resume TLS sessions to upstreams (TLS 1.3 tickets). Default true. */
  sessionResumption?: boolean;
  /** Offer the multiplexed transport (proxy/mux). Default true. */
  multiplex?: boolean;
  audit: ConnectionAudit;
  metrics?: ProxyMetrics;
  logger: Logger;
  /** Sessions and connections to upstreams register here: removing an anchor drains theirs. */
  drain?: AnchorDrain;
  /** Offer the relay transport (proxy/relay) to meshed upstreams, before mux; null or absent: not offered. */
  relay?: RelayHub | null;
}

export interface Upstream {
  address: HostPort;
  identity: string | null;
  rule: string;
  /** Set when the connection must be refused (no original destination, discovery down, ...). */
  refusal?: string;
  /** What discovery said, for the audit reason. */
  note?: string;
}

export class OutboundProxy {
  private readonly servers: Server[] = [];
  private readonly sessions = new Map<string, Buffer>();
  private readonly muxes = new Map<string, MuxClient>();
  private sessionGeneration = -1;
  private readonly sockets = new Set<Socket>();
  private readonly pipeline: ConnectionPipeline;
  private readonly relay: RelayClient | null;

  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly cfg: OutboundProxyConfig) {
    this.pipeline = new ConnectionPipeline({
      direction: 'outbound',
      localIdentity: cfg.localIdentity,
      limit: new ConnectionLimit(cfg.maxConnections ?? 10_000),
      audit: cfg.audit,
      metrics: cfg.metrics,
      connectTimeoutMs: cfg.connectTimeoutMs,
      idleTimeoutMs: cfg.idleTimeoutMs,
      track: (s) => this.track(s),
      drain: cfg.drain,
    });
    this.relay = cfg.relay
      ? new RelayClient({
          hub: cfg.relay,
          connectTls: (address, identity, alpn, socket) => this.connectTls(address, identity, alpn, socket),
          generation: () => this.cfg.tls.current()?.generation ?? 0,
          certificateExpiry: () => this.cfg.tls.current()?.certificate.notAfter.getTime() ?? null,
          timeoutMs: (cfg.connectTimeoutMs ?? 5000) + (cfg.handshakeTimeoutMs ?? 10_000),
          track: (s) => this.track(s),
          drain: cfg.drain,
          metrics: cfg.metrics,
        })
      : null;
    // Destinations come and go (pods are replaced): forget the per-destination state of those
    // not dialled for a while, so a long-lived proxy in a churning cluster does not grow.
    this.sweeper = setInterval(() => this.sweep(), 60_000);
    this.sweeper.unref();
  }

  private sweep(): void {
    for (const [key, m] of this.muxes) if (m.unusedFor(10 * 60_000)) this.muxes.delete(key);
    this.relay?.sweep(10 * 60_000);
    while (this.sessions.size > 10_000) this.sessions.delete(this.sessions.keys().next().value as string);
  }

  /** Starts one listener per route with a listen address; returns the bound addresses. */
  async start(): Promise<HostPort[]> {
    const bound: HostPort[] = [];
    for (const route of this.cfg.routes) {
      if (!route.listen) continue;
      // The audit rule names the bound address, so routes listening on port 0 stay distinct.
      let rule = route.name;
      const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (s) => this.accept(s, { address: route.upstream, identity: route.identity, rule }));
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) => reject(new Error(`outbound listener ${fmt(route.listen!)}: ${e.code ?? e.message}`)));
        server.listen(route.listen!.port, route.listen!.host, () => resolve());
      });
      const a = server.address() as { address: string; port: number };
      rule = `route:${fmt({ host: a.address, port: a.port })}`;
      bound.push({ host: a.address, port: a.port });
      this.servers.push(server);
    }
    return bound;
  }

  /** Stops accepting; open connections get `graceMs` to finish, then are destroyed. */
  async stop(graceMs = 5000): Promise<void> {
    clearInterval(this.sweeper);
    for (const m of this.muxes.values()) m.close();
    this.relay?.closeAll(true);
    await drain(this.servers, this.sockets, graceMs);
    // The relay holds its own copy of each socket: what the grace left open is closed there.
    this.relay?.closeAll(false);
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  /**
   * Transparent mode: one listener for every redirected connection; `resolve` finds each
   * connection's upstream from its original destination (or says why it must be refused).
   */
  async startTransparent(listen: HostPort, resolve: (client: Socket) => Promise<Upstream>): Promise<HostPort> {
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (client) => {
      client.on('error', () => undefined);
      resolve(client).then(
        (up) => this.accept(client, up),
        (e: Error) => this.accept(client, { address: { host: '0.0.0.0', port: 0 }, identity: null, rule: 'transparent', refusal: `internal error: ${e.message}` }),
      );
    });
    await new Promise<void>((ok, fail) => {
      server.once('error', (e: NodeJS.ErrnoException) => fail(new Error(`outbound listener ${fmt(listen)}: ${e.code ?? e.message}`)));
      server.listen(listen.port, listen.host, () => ok());
    });
    this.servers.push(server);
    const a = server.address() as { address: string; port: number };
    return { host: a.address, port: a.port };
  }

  /** Handles one app connection bound for `up` (explicit routes and the transparent listener). */
  accept(client: Socket, up: Upstream): void {
    client.on('error', () => undefined);
    const conn = this.pipeline.begin({
      src: endpoint(client.remoteAddress, client.remotePort),
      dst: fmt(up.address),
      port: up.address.port,
      tls: up.identity !== null,
      transport: up.identity !== null ? 'tls' : 'tcp',
      // peerIdentity is set to the expected identity once the upstream's certificate has proven it.
      expectedIdentity: up.identity,
      decision: 'allow',
      rule: up.rule,
      reason: (up.identity ? `mTLS to ${up.identity}` : 'unmeshed destination: plain TCP') + (up.note ? ` (${up.note})` : ''),
    });
    if (!conn.admit()) return void client.destroy();
    const material = this.cfg.tls.current();
    if (!material) {
      conn.release();
      this.cfg.metrics?.refusedEarly('outbound', 'no-identity');
      return void client.destroy();
    }
    this.track(client);
    if (up.refusal) return refuse(conn, client, up.refusal);
    if (up.identity === null && (this.cfg.unmeshed ?? 'allow') === 'deny') return refuse(conn, client, 'unmeshed destination and LANYARD_PROXY_OUTBOUND_UNMESHED=deny');
    // Peers refuse an expired certificate anyway; saying so here names the cause in our audit.
    const expired = up.identity !== null ? expiredReason(material.certificate) : null;
    if (expired) return refuse(conn, client, expired, 'local-cert-expired');
    const identity = up.identity;
    const failed = (e: NodeJS.ErrnoException): ConnectFailure => ({ decision: 'deny', reason: describeUpstreamError(e, up), closeReason: `upstream:${e.code ?? e.message}` });
    const carry = () =>
      void conn.carry({
        downstream: client,
        dial: identity === null ? () => this.pipeline.dialTcp(up.address.host, up.address.port, client) : () => this.dialMeshed(up.address, identity, conn),
        app: 'downstream',
        failed,
      });
    if (identity !== null && this.relay?.wants(up.address, identity)) return this.relay.carry({ conn, client, address: up.address, identity, failed, fallback: carry });
    carry();
  }

  /** A stream or TLS connection to a meshed upstream whose certificate proved `identity`. */
  private async dialMeshed(address: HostPort, identity: string, conn: ProxiedConnection): Promise<SpliceEnd> {
    const d = await this.muxFor(address, identity).dial(address.port);
    if (d.handshake) this.cfg.metrics?.handshakeDone('outbound', (performance.now() - conn.record.startedAt) / 1000, d.resumed);
    conn.record.peerIdentity = identity; // chain verified and SAN checked by checkIdentity
    conn.authenticatedBy = d.tls;
    conn.record.peerSerial = d.presented.serial;
    conn.record.peerIssuerFingerprint = d.presented.issuerFingerprint;
    if (d.multiplexed) {
      conn.record.transport = 'mux';
      conn.record.reason += ' (multiplexed)';
    }
    return d.stream;
  }

  /** The multiplexing dialler for one upstream and expected identity. */
  private muxFor(address: HostPort, identity: string): MuxClient {
    const key = `${fmt(address)}|${identity}`;
    let m = this.muxes.get(key);
    if (!m) {
      m = new MuxClient({
        connectTls: (alpn) => {
          const t = this.connectTls(address, identity, alpn);
          this.track(t);
          return t;
        },
        generation: () => this.cfg.tls.current()?.generation ?? 0,
        certificateExpiry: () => this.cfg.tls.current()?.certificate.notAfter.getTime() ?? null,
        // One bound for TCP connect plus TLS handshake (plus the peer's SETTINGS, or its answer to a stream).
        timeoutMs: (this.cfg.connectTimeoutMs ?? 5000) + (this.cfg.handshakeTimeoutMs ?? 10_000),
        keepaliveMs: this.cfg.keepaliveMs,
        multiplex: this.cfg.multiplex ?? true,
        onSessionOpen: (tls, h2) => {
          this.cfg.metrics?.outboundSession(1);
          // GOAWAY on a drain: new streams go to a new session, verified against the new anchors.
          const unregister = this.cfg.drain?.add({ direction: 'outbound', kind: 'session', tls, drain: () => h2.close(), close: () => h2.destroy() });
          if (unregister) h2.once('close', unregister);
          this.cfg.logger.info({ event: 'mux_session_opened', direction: 'outbound', upstream: fmt(address), identity }, 'multiplexed session opened');
        },
        onSessionEnd: (why, streams) => {
          this.cfg.metrics?.outboundSession(-1);
          this.cfg.logger.info({ event: 'mux_session_closed', direction: 'outbound', upstream: fmt(address), identity, reason: why, streams }, 'multiplexed session closed');
        },
      });
      this.muxes.set(key, m);
    }
    return m;
  }

  /** `socket`: a TCP connection to run TLS over (the relay needs its descriptor); default: one made here. */
  private connectTls(address: HostPort, identity: string, alpn: string[], socket?: Socket): TLSSocket {
    const material = this.cfg.tls.current()!;
    if (material.generation !== this.sessionGeneration) {
      // New certificate or anchors: sessions made under the old ones must not be resumed.
      this.sessions.clear();
      this.sessionGeneration = material.generation;
    }
    const key = `${fmt(address)}|${identity}`;
    const resume = this.cfg.sessionResumption ?? true;
    const options: ConnectionOptions & { allowHalfOpen: boolean } = {
      host: address.host,
      port: address.port,
      socket,
      servername: identity,
      secureContext: material.clientContext,
      minVersion: 'TLSv1.3',
      allowHalfOpen: true,
      session: resume ? this.sessions.get(key) : undefined,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkIdentity(identity, cert),
      ALPNProtocols: alpn.length ? alpn : undefined,
    };
    // tls.connect passes allowHalfOpen on to the TLSSocket (its types omit it).
    const tls = tlsConnect(options);
    tls.setNoDelay(true);
    // A ticket that arrives after the certificate or anchors changed belongs to the old ones.
    const generation = material.generation;
    if (resume) tls.on('session', (s: Buffer) => generation === this.sessionGeneration && this.sessions.set(key, s));
    return tls;
  }
}

function refuse(conn: ProxiedConnection, client: Socket, reason: string, closeReason = 'refused'): void {
  conn.record.decision = 'deny';
  client.destroy();
  conn.close(closeReason, reason);
}

/**
 * The server must present `identity` among its DNS SANs (its chain was verified by OpenSSL),
 * in a certificate that is a leaf and whose SPIFFE ID, if any, names the same account.
 */
function checkIdentity(identity: string, cert: PeerCertificate): Error | undefined {
  const proof = provePeer(cert);
  if ('refusal' in proof) {
    const err = new Error(`server certificate refused: ${proof.refusal}`) as NodeJS.ErrnoException;
    err.code = 'ERR_LANYARD_PEER_CERTIFICATE';
    return err;
  }
  const names = parseSubjectAltName(cert.subjectaltname);
  if (names.dns.includes(identity)) return undefined;
  const err = new Error(`server identity mismatch: expected ${identity}, certificate names ${names.dns.join(', ') || 'no DNS identity'}`) as NodeJS.ErrnoException;
  err.code = 'ERR_LANYARD_IDENTITY_MISMATCH';
  return err;
}

function describeUpstreamError(e: NodeJS.ErrnoException, up: Upstream): string {
  if (e.code === 'ERR_LANYARD_IDENTITY_MISMATCH' || e.code === 'ERR_LANYARD_PEER_CERTIFICATE') return e.message;
  if (e.code === 'timeout') return `upstream ${fmt(up.address)}: ${e.message}`;
  if (e.code && /CERT|SIGNATURE|ISSUER|SELF_SIGNED|VERIFY/.test(e.code)) return `upstream certificate rejected: ${e.code}`;
  // Reached, but what answered does not speak TLS for this name (say a proxy with another
  // identity passed our ClientHello through to its plaintext app): not a reachability problem.
  if (e.code?.startsWith('ERR_SSL_') && up.identity) return `upstream ${fmt(up.address)} did not complete a TLS handshake for ${up.identity}: ${e.code}`;
  return `cannot reach upstream ${fmt(up.address)}: ${e.code ?? e.message}`;
}
