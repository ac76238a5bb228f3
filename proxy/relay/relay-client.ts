/**
 * The outbound side of the relay transport (relay-protocol.ts): an application connection to
 * a meshed upstream becomes a stream on an idle relay connection to that upstream (pooled per
 * upstream, identity and certificate generation), or on a new one whose mutual-TLS handshake
 * Node makes and whose bytes the native relay then carries.
 *
 * Every wait is bounded: the TCP connect, the handshake and READY by `timeoutMs`; the peer's
 * answer to a stream by the relay's status timeout. A stream whose pooled connection the peer
 * had closed is retried on a new connection (nothing of the application was read yet). An
 * upstream that does not select the relay ALPN (an older Lanyard, a peer without the addon)
 * is dialled with the mux transport for a while, through `fallback`.
 *
 * Connections close when their certificates expire (gracefully), when the certificate or the
 * anchors change (new streams go to a new pool), when their peer's anchor is removed, when
 * they idle in the pool past the relay's pool timeout, and at stop.
 */
import { connect as tcpConnect, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { timerDelay } from '../../src/util/duration.js';
import type { ConnectFailure, ProxiedConnection } from '../io/connection-pipeline.js';
import { DialTimeoutError } from '../io/dial.js';
import type { ProxyMetrics } from '../metrics.js';
import { earliest } from '../mux/mux-client.js';
import { MUX_ALPN, PEER_STATUS_REASONS } from '../mux/mux-protocol.js';
import { RelayEnd } from '../native/index.js';
import { socketFd, stopTlsReading } from '../node-internals.js';
import type { AnchorDrain } from '../tls/anchor-drain.js';
import { presentedBy, type PresentedCertificate } from '../tls/presented-certificate.js';
import type { HostPort } from '../outbound/routes.js';
import type { RelayHub } from './relay-hub.js';
import { endReason, READY, RELAY_ALPN, relayKeys } from './relay-protocol.js';

export interface RelayClientConfig {
  hub: RelayHub;
  /** A TLS connection over `socket` offering `alpn`, with the upstream's identity checked. */
  connectTls: (address: HostPort, identity: string, alpn: string[], socket: Socket) => TLSSocket;
  generation: () => number;
  /** NotAfter (epoch ms) of the certificate connections are made with now, or null. */
  certificateExpiry: () => number | null;
  /** Bound on TCP connect, TLS handshake and READY. */
  timeoutMs: number;
  /** How long an upstream that did not select the relay is dialled with mux. Default 5 min. */
  fallbackMemoryMs?: number;
  track: (s: Socket) => void;
  drain?: AnchorDrain;
  metrics?: ProxyMetrics;
}

interface Connection {
  tls: TLSSocket;
  raw: Socket;
  presented: PresentedCertificate;
  close(graceful: boolean): void;
}

interface Destination {
  poolKey: number;
  generation: number;
  connections: Map<number, Connection>;
  fallbackUntil: number;
  lastUsed: number;
}

export interface RelayCarry {
  conn: ProxiedConnection;
  /** The application's socket, paused: the relay reads it once the peer accepted the stream. */
  client: Socket;
  address: HostPort;
  identity: string;
  /** How a dial that failed before the relay took over is audited. */
  failed: (e: NodeJS.ErrnoException) => ConnectFailure;
  /** The upstream does not speak the relay: carry this connection another way. */
  fallback: () => void;
}

/** Attempts for one stream: a pooled connection the peer had closed is retried on new ones. */
const MAX_ATTEMPTS = 3;

export class RelayClient {
  private readonly destinations = new Map<string, Destination>();
  private lastPoolKey = 0;

  constructor(private readonly cfg: RelayClientConfig) {}

  /** False while this upstream is remembered as not selecting the relay. */
  wants(address: HostPort, identity: string): boolean {
    return (this.destinations.get(keyOf(address, identity))?.fallbackUntil ?? 0) <= Date.now();
  }

  carry(c: RelayCarry): void {
    const dest = this.destination(c.address, c.identity);
    this.attempt(c, dest, 1);
  }

  /** Closes every connection gracefully (their streams finish), or now. */
  closeAll(graceful: boolean): void {
    for (const d of this.destinations.values()) for (const conn of d.connections.values()) conn.close(graceful);
  }

  /** Forgets upstreams without connections not dialled for `ms`. */
  sweep(ms: number): void {
    for (const [key, d] of this.destinations) if (d.connections.size === 0 && Date.now() - d.lastUsed > ms && d.fallbackUntil <= Date.now()) this.destinations.delete(key);
  }

  private destination(address: HostPort, identity: string): Destination {
    const key = keyOf(address, identity);
    const generation = this.cfg.generation();
    let d = this.destinations.get(key);
    if (!d) {
      d = { poolKey: ++this.lastPoolKey, generation, connections: new Map(), fallbackUntil: 0, lastUsed: Date.now() };
      this.destinations.set(key, d);
    } else if (d.generation !== generation) {
      // New certificate or anchors: connections made with the old ones finish their stream and go.
      this.cfg.hub.native.relayDropPool(d.poolKey);
      for (const conn of d.connections.values()) conn.close(true);
      d.poolKey = ++this.lastPoolKey;
      d.generation = generation;
    }
    d.lastUsed = Date.now();
    return d;
  }

  private attempt(c: RelayCarry, dest: Destination, attempt: number): void {
    const { hub } = this.cfg;
    const { conn, client } = c;
    let started = false;
    const stream = hub.newStream({
      started: () => {
        started = true;
        conn.opened();
        client.destroy(); // the relay carries it on its own copy of the socket
      },
      ended: (fromApp, toApp, reason, detail) => {
        if (started) return conn.finished(toApp, fromApp, endReason(reason, detail));
        if (reason === RelayEnd.RETRY && attempt < MAX_ATTEMPTS && !client.destroyed) return this.attempt(c, dest, attempt + 1);
        if (reason === RelayEnd.REFUSED) return this.refused(c, PEER_STATUS_REASONS[detail] ?? `the peer proxy answered ${detail}`, `upstream:ERR_LANYARD_RELAY_${detail}`);
        if (reason === RelayEnd.STATUS_TIMEOUT) return this.refused(c, `upstream ${c.address.host}:${c.address.port}: the peer proxy did not answer the stream in time`, 'upstream:timeout');
        this.refused(c, `upstream ${c.address.host}:${c.address.port}: the relay connection failed (${endReason(reason, detail)})`, `upstream:${endReason(reason, detail)}`);
      },
    });
    let fd: number;
    try {
      fd = socketFd(client);
    } catch {
      hub.forget(stream);
      return conn.close('client-closed');
    }
    const pooled = hub.native.relayAttach(fd, dest.poolKey, stream, c.address.port);
    if (!pooled) return this.dial(c, dest, stream, fd);
    const connection = dest.connections.get(pooled);
    if (connection) this.describe(c, connection, false, false);
  }

  private refused(c: RelayCarry, reason: string, closeReason: string): void {
    c.conn.record.decision = 'deny';
    c.client.destroy();
    c.conn.close(closeReason, reason);
  }

  /** The record says which connection carries the stream, once its certificate proved the identity. */
  private describe(c: RelayCarry, connection: Connection, handshake: boolean, resumed: boolean): void {
    const r = c.conn.record;
    if (handshake) this.cfg.metrics?.handshakeDone('outbound', (performance.now() - r.startedAt) / 1000, resumed);
    r.peerIdentity = c.identity; // chain verified and SAN checked by connectTls
    r.peerSerial = connection.presented.serial;
    r.peerIssuerFingerprint = connection.presented.issuerFingerprint;
    r.transport = 'relay';
    if (!r.reason.endsWith(' (relay)')) r.reason += ' (relay)';
    c.conn.authenticatedBy = connection.tls;
  }

  /** A new relay connection whose first stream is `stream`. */
  private dial(c: RelayCarry, dest: Destination, stream: number, appFd: number): void {
    const { hub } = this.cfg;
    const raw = tcpConnect({ host: c.address.host, port: c.address.port, noDelay: true });
    this.cfg.track(raw);
    raw.on('error', () => undefined);
    const tls = this.cfg.connectTls(c.address, c.identity, [RELAY_ALPN, MUX_ALPN], raw);
    let settled = false;
    const fail = (e: NodeJS.ErrnoException) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      hub.forget(stream);
      tls.destroy();
      raw.destroy();
      const f = c.failed(e);
      if (f.decision) c.conn.record.decision = f.decision;
      c.client.destroy();
      c.conn.close(f.closeReason, f.reason);
    };
    const timer = setTimeout(() => fail(new DialTimeoutError('TLS handshake and relay hand-off', this.cfg.timeoutMs)), this.cfg.timeoutMs);
    tls.once('error', fail);
    tls.once('secureConnect', () => {
      if (tls.alpnProtocol !== RELAY_ALPN) {
        settled = true;
        clearTimeout(timer);
        hub.forget(stream);
        tls.destroy();
        dest.fallbackUntil = Date.now() + (this.cfg.fallbackMemoryMs ?? 300_000);
        return c.fallback();
      }
      tls.once('data', (b: Buffer) => {
        if (settled) return;
        stopTlsReading(tls);
        if (!b.equals(READY)) return fail(Object.assign(new Error('the peer proxy did not answer READY'), { code: 'ERR_LANYARD_RELAY_HANDOFF' }));
        settled = true;
        clearTimeout(timer);
        tls.removeAllListeners('error');
        tls.on('error', () => undefined);
        const connection = this.register(tls, raw, dest);
        this.describe(c, connection, true, tls.isSessionReused());
        const keys = relayKeys(tls);
        try {
          hub.native.relayConnect(appFd, socketFd(raw), keys.clientToServer, keys.serverToClient, connection.id, dest.poolKey, stream, c.address.port);
        } catch (e) {
          // Out of memory or descriptors in the relay: nothing was handed over.
          connection.dispose();
          settled = false;
          fail(e as NodeJS.ErrnoException);
        }
      });
    });
  }

  /** Keeps a relay connection's TLS socket (for anchor drains) until the relay says it is gone. */
  private register(tls: TLSSocket, raw: Socket, dest: Destination): Connection & { id: number; dispose(): void } {
    const { hub } = this.cfg;
    const timers: NodeJS.Timeout[] = [];
    let unregister: (() => void) | undefined;
    const dispose = () => {
      hub.dropConnection(id);
      for (const t of timers) clearTimeout(t);
      unregister?.();
      dest.connections.delete(id);
      tls.destroy();
      raw.destroy();
      this.cfg.metrics?.outboundSession(-1);
    };
    const id = hub.newConnection({ closed: dispose });
    const close = (graceful: boolean) => hub.native.relayClose(id, graceful);
    const connection = { id, tls, raw, presented: presentedBy(tls), close, dispose };
    dest.connections.set(id, connection);
    this.cfg.metrics?.outboundSession(1);
    const expiresAt = earliest(this.cfg.certificateExpiry(), Date.parse(tls.getPeerCertificate().valid_to));
    if (expiresAt !== null) timers.push(setTimeout(() => close(true), timerDelay(expiresAt - Date.now())).unref());
    if (this.cfg.drain) unregister = this.cfg.drain.add({ direction: 'outbound', kind: 'session', tls, drain: () => close(true), close: () => close(false) });
    return connection;
  }
}

const keyOf = (a: HostPort, identity: string) => `${a.host}:${a.port}|${identity}`;
