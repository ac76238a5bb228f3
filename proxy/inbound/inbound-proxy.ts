/**
 * Inbound (4143): peek at the first bytes within the detect timeout; a ClientHello for the
 * local identity is terminated with TLS 1.3 (client certificate optional, but verified to
 * the anchors when present); other TLS is passed through untouched; anything else is
 * plaintext. The policy for the target port then decides, and an allowed connection is
 * spliced to the application.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { createSecureContext, TLSSocket, type DetailedPeerCertificate, type SecureContext } from 'node:tls';
import { TrustBundle } from '../../src/pki/trust-bundle.js';
import type { Logger } from '../../src/telemetry/logger.js';
import { ConnectionAudit, endpoint, type ConnectionRecord } from '../audit.js';
import { splice } from '../io/splice.js';
import type { ProxyMetrics } from '../metrics.js';
import type { Decision, Peer } from '../policy/peer.js';
import { parseSubjectAltName } from '../tls/peer-identity.js';
import type { TlsMaterial, TlsState } from '../tls/tls-state.js';
import { detect } from './detect.js';
import { drain } from '../io/drain.js';
import { MuxInbound } from './mux-inbound.js';
import { MUX_ALPN } from '../mux/mux-protocol.js';

export interface InboundTarget {
  /** Where the application listens. */
  host: string;
  port: number;
  /** What the peer dialled, for the audit line (`dst`). */
  dst: string;
}

export interface InboundProxyConfig {
  host: string;
  port: number;
  localIdentity: string;
  tls: TlsState;
  policy: { current(): { authorize(peer: Peer, port: number): Decision } };
  /** The application target of an accepted socket, or an Error saying why there is none. */
  target: (socket: Socket) => InboundTarget | Error;
  /** The target of a multiplexed stream that names `port` (see proxy/mux). */
  streamTarget: (port: number) => InboundTarget | Error;
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
  /** Concurrent inbound connections. Default 10,000. */
  maxConnections?: number;
  audit: ConnectionAudit;
  metrics?: ProxyMetrics;
  logger: Logger;
}

type Record_ = ConnectionRecord;

export class InboundProxy {
  private server: Server | null = null;
  private active = 0;
  private serverContext: { generation: number; context: SecureContext } | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly mux: MuxInbound;

  constructor(private readonly cfg: InboundProxyConfig) {
    this.mux = new MuxInbound({
      localIdentity: cfg.localIdentity,
      policy: cfg.policy,
      streamTarget: cfg.streamTarget,
      ownPorts: cfg.ownPorts,
      connectTimeoutMs: cfg.connectTimeoutMs,
      idleTimeoutMs: cfg.idleTimeoutMs,
      admit: () => this.active < (this.cfg.maxConnections ?? 10_000) && ++this.active > 0,
      release: () => void this.active--,
      track: (s) => this.track(s),
      audit: cfg.audit,
      metrics: cfg.metrics,
    });
    // New anchors: sessions whose clients were verified against the old ones finish their
    // streams and close, so clients reconnect and are verified again. A rotation of our own
    // certificate needs nothing: clients checked it when they connected.
    let anchors = cfg.tls.anchors();
    cfg.tls.on('change', (m: TlsMaterial) => {
      if (m.anchorsPem !== anchors) this.mux.closeAll();
      anchors = m.anchorsPem;
    });
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
    const s = this.server;
    this.server = null;
    await drain(s ? [s] : [], this.sockets, graceMs);
  }

  private track(s: Socket): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
  }

  private accept(socket: Socket): void {
    socket.on('error', () => undefined); // reported through the audit line
    const material = this.cfg.tls.current();
    if (this.active >= (this.cfg.maxConnections ?? 10_000) || !material) {
      this.cfg.metrics?.refusedEarly('inbound', material ? 'limit' : 'no-identity');
      socket.destroy();
      return;
    }
    this.active++;
    this.track(socket);
    const target = this.cfg.target(socket);
    const record: Record_ = {
      direction: 'inbound',
      localIdentity: this.cfg.localIdentity,
      peerIdentity: null,
      peerSpiffeId: null,
      tls: false,
      src: endpoint(socket.remoteAddress, socket.remotePort),
      dst: target instanceof Error ? endpoint(socket.localAddress, socket.localPort) : target.dst,
      port: target instanceof Error ? socket.localPort ?? 0 : target.port,
      decision: 'deny',
      rule: 'detect',
      reason: '',
      rx: 0,
      tx: 0,
      startedAt: performance.now(),
      closeReason: '',
    };
    void this.handle(socket, material, target, record).catch((e: Error) => {
      this.cfg.logger.error({ err: e }, 'inbound connection failed unexpectedly');
      socket.destroy();
      this.finish(record, 'internal-error');
    });
  }

  private async handle(socket: Socket, material: TlsMaterial, target: InboundTarget | Error, record: Record_): Promise<void> {
    const d = await detect(socket, this.cfg.detectTimeoutMs ?? 10_000);
    if (d.kind === 'timeout' || d.kind === 'closed') {
      this.cfg.metrics?.detected(d.kind);
      socket.destroy();
      record.reason =
        d.kind === 'timeout' ? 'no protocol detected before the detect timeout' : d.bytes ? `closed after ${d.bytes} bytes, before the protocol was known` : 'closed before sending anything';
      return this.finish(record, d.kind === 'timeout' ? 'detect-timeout' : 'peer-closed');
    }
    let peerSide: Socket = socket;
    if (d.kind === 'tls' && d.sni === this.cfg.localIdentity) {
      this.cfg.metrics?.detected('tls-local');
      const tls = await this.terminate(socket, material, record, d.mux === true);
      if (!tls) return;
      if (tls.alpnProtocol === MUX_ALPN) {
        // A multiplexed session: each stream is audited as its own connection.
        const dstHost = record.dst.includes(']:') ? record.dst.slice(0, record.dst.lastIndexOf(':')) : record.dst.split(':')[0];
        const peer = { identity: record.peerIdentity, spiffeId: record.peerSpiffeId ?? null, address: socket.remoteAddress ?? '', src: record.src, dstHost };
        this.mux.serve(tls, peer, () => this.active--);
        return;
      }
      peerSide = tls;
    } else {
      this.cfg.metrics?.detected(d.kind === 'tls' ? 'tls-passthrough' : d.kind === 'malformed' ? 'malformed' : 'plaintext');
    }

    if (target instanceof Error) {
      peerSide.destroy();
      record.reason = target.message;
      return this.finish(record, 'no-target');
    }
    const peer: Peer = { tls: record.tls, identity: record.peerIdentity, spiffeId: record.peerSpiffeId ?? null, address: socket.remoteAddress ?? '' };
    const decision = this.cfg.policy.current().authorize(peer, target.port);
    record.decision = decision.allow ? (decision.audit ? 'audit' : 'allow') : 'deny';
    record.rule = decision.rule;
    record.reason = d.kind === 'tls' && d.sni !== this.cfg.localIdentity ? `TLS for ${d.sni ?? 'no SNI'} passed through; ${decision.reason}` : decision.reason;
    this.cfg.audit.opened(record);
    if (!decision.allow) {
      peerSide.destroy();
      return this.finish(record, 'policy-deny', false);
    }
    const app = netConnect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    this.track(app);
    const ok = await connected(app, this.cfg.connectTimeoutMs ?? 5000);
    if (ok !== true) {
      peerSide.destroy();
      app.destroy();
      return this.finish(record, `app-connect:${ok}`, false);
    }
    // A peer that half-closed during detection: its bytes could not be put back on its socket.
    if ('replay' in d) app.write(d.replay);
    const result = await splice(app, peerSide, { idleTimeoutMs: this.cfg.idleTimeoutMs });
    record.rx = app.bytesWritten;
    record.tx = app.bytesRead;
    this.finish(record, result.reason, false);
  }

  /** TLS termination; resolves with the TLS socket, or null after auditing a failure. */
  private terminate(socket: Socket, material: TlsMaterial, record: Record_, offersMux: boolean): Promise<TLSSocket | null> {
    const started = performance.now();
    const tls = new TLSSocket(socket, {
      isServer: true,
      secureContext: this.contextFor(material),
      requestCert: true,
      rejectUnauthorized: false, // a client certificate is optional; one that is present is checked below
      // Select the mux transport only when the ClientHello offered it: Node refuses a handshake
      // whose ALPN lists do not overlap, and other clients (openssl, curl) must still connect.
      ALPNProtocols: offersMux ? [MUX_ALPN] : undefined,
    });
    return new Promise((resolve) => {
      const timer = setTimeout(() => fail('handshake-timeout', 'TLS handshake did not complete in time'), this.cfg.handshakeTimeoutMs ?? 10_000);
      const fail = (closeReason: string, reason: string) => {
        clearTimeout(timer);
        tls.destroy();
        socket.destroy();
        record.tls = true;
        record.rule = 'tls';
        record.reason = reason;
        this.finish(record, closeReason);
        resolve(null);
      };
      tls.once('error', (e: NodeJS.ErrnoException) => fail(`tls-error:${e.code ?? 'unknown'}`, `TLS handshake failed: ${e.code ?? e.message}`));
      tls.once('secure', () => {
        clearTimeout(timer);
        tls.removeAllListeners('error');
        tls.on('error', () => undefined);
        this.cfg.metrics?.handshakeDone('inbound', (performance.now() - started) / 1000, tls.isSessionReused());
        record.tls = true;
        const cert = tls.getPeerCertificate();
        const presented = cert && Object.keys(cert).length > 0;
        const verifyError = presented ? clientVerifyError(tls, material) : null;
        if (verifyError) return fail('client-cert-rejected', `client certificate rejected: ${verifyError}`);
        if (presented) {
          const names = parseSubjectAltName(cert.subjectaltname);
          record.peerIdentity = names.dns[0] ?? null;
          record.peerSpiffeId = names.spiffe;
        }
        resolve(tls);
      });
    });
  }

  /** One server SecureContext per certificate generation, shared so TLS tickets resume. */
  private contextFor(material: TlsMaterial): SecureContext {
    if (this.serverContext?.generation !== material.generation) {
      this.serverContext = { generation: material.generation, context: createSecureContext(material.serverOptions) };
    }
    return this.serverContext.context;
  }

  private finish(record: Record_, closeReason: string, countOpen = true): void {
    this.active--;
    record.closeReason = closeReason;
    if (countOpen) this.cfg.audit.opened(record);
    this.cfg.audit.closed(record);
  }
}

/**
 * OpenSSL verified the client's chain against the anchors during the handshake and kept
 * the result; only a TLSSocket owned by a tls.Server copies it into `authorized`, so read
 * it where tls.Server does (`_handle.verifyError()`). If that internal ever disappears,
 * verify the presented chain with public APIs instead.
 */
function clientVerifyError(tls: TLSSocket, material: TlsMaterial): string | null {
  const handle = (tls as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
  if (typeof handle?.verifyError === 'function') {
    const err = handle.verifyError();
    return err ? err.code ?? err.message : null;
  }
  try {
    const chain: X509Certificate[] = [];
    for (let c: DetailedPeerCertificate | undefined = tls.getPeerCertificate(true); c?.raw && chain.length < 8; c = c.issuerCertificate === c ? undefined : c.issuerCertificate) {
      chain.push(new X509Certificate(c.raw));
    }
    TrustBundle.fromPem(material.anchorsPem).verify(chain.filter((c, i) => i === 0 || !c.ca || !c.checkIssued(c)), new Date());
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Resolves true when connected, else the error code (or `timeout`). */
function connected(socket: Socket, timeoutMs: number): Promise<true | string> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve('timeout');
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code ?? e.message);
    });
  });
}
