/**
 * The contract every proxied connection keeps, written once: a slot against the limit, one
 * record, a bounded connect, the splice, and exactly one audit open and one audit close,
 * whatever path the connection took and wherever it ended. InboundProxy, MuxInbound and
 * OutboundProxy say only what is specific to them (how the peer is known, what it is
 * allowed, where it goes); the record they leave behind is written here.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { ConnectionAudit, ConnectionRecord } from '../audit.js';
import type { Direction, ProxyMetrics } from '../metrics.js';
import type { Decision } from '../policy/peer.js';
import type { AnchorDrain } from '../tls/anchor-drain.js';
import type { ConnectionLimit, Slot } from './connection-limit.js';
import { dialTcp } from './dial.js';
import { closeWhenQuiet } from './quiet-close.js';
import { splice, type SpliceEnd } from './splice.js';

export interface PipelineConfig {
  direction: Direction;
  localIdentity: string;
  limit: ConnectionLimit;
  audit: ConnectionAudit;
  metrics?: ProxyMetrics;
  /** TCP connect timeout (to the application, or a plain upstream). Default 5s. */
  connectTimeoutMs?: number;
  /** Close a spliced connection idle this long. Default 1h; 0 disables. */
  idleTimeoutMs?: number;
  /** Every socket the pipeline makes, so shutdown can drain it. */
  track: (s: Socket) => void;
  /** Carried connections whose peer was authenticated register here (anchor removal drains them). */
  drain?: AnchorDrain;
}

/** Where a connection came from and is going, and its verdict until one is made. */
export type Opening = Pick<ConnectionRecord, 'src' | 'dst' | 'port' | 'tls' | 'decision' | 'rule' | 'reason'> &
  Partial<Pick<ConnectionRecord, 'peerIdentity' | 'peerSpiffeId' | 'peerSerial' | 'peerIssuerFingerprint' | 'expectedIdentity' | 'transport' | 'session'>>;

/** How a connect that failed is audited. */
export interface ConnectFailure {
  closeReason: string;
  reason?: string;
  decision?: 'deny';
}

export interface CarryOptions {
  /** The side that dialled us. */
  downstream: SpliceEnd;
  /** Makes the other side; must settle within a bound (dialTcp, MuxClient.dial). */
  dial: () => Promise<SpliceEnd>;
  /** Which side is the application's TCP socket: bytes are counted on it. */
  app: 'downstream' | 'upstream';
  failed: (e: NodeJS.ErrnoException) => ConnectFailure;
  /** Tells the downstream the connect failed. Default: destroy it (a stream answers a status instead). */
  abandon?: () => void;
  /** Runs once the upstream is connected, before a byte moves (answer a stream 200, replay bytes). */
  connected?: (upstream: SpliceEnd) => void;
}

/** Close reason when the side that dialled us left before the other side was connected. */
const LEFT_EARLY: Record<Direction, string> = { inbound: 'peer-closed', outbound: 'client-closed' };

export class ConnectionPipeline {
  constructor(readonly cfg: PipelineConfig) {}

  begin(o: Opening): ProxiedConnection {
    return new ProxiedConnection(this.cfg, o);
  }

  /** A TCP connection within the connect timeout; abandoned if `cancelWith` closes first. */
  dialTcp(host: string, port: number, cancelWith?: SpliceEnd): Promise<Socket> {
    return dialTcp({ host, port, timeoutMs: this.cfg.connectTimeoutMs ?? 5000, cancelWith, onSocket: this.cfg.track });
  }
}

export class ProxiedConnection {
  readonly record: ConnectionRecord;
  /**
   * The TLS connection whose peer certificate authenticated this one (a stream: its
   * session's), set by whoever verified the peer; carried connections with one are drained
   * when the peer's anchor leaves the bundle.
   */
  authenticatedBy: TLSSocket | null = null;
  private slot: Slot | null = null;
  private state: 'new' | 'open' | 'closed' = 'new';

  constructor(
    private readonly cfg: PipelineConfig,
    o: Opening,
  ) {
    this.record = {
      direction: cfg.direction,
      localIdentity: cfg.localIdentity,
      peerIdentity: null,
      peerSpiffeId: null,
      rx: 0,
      tx: 0,
      startedAt: performance.now(),
      closeReason: '',
      ...o,
    };
  }

  /** Takes a slot; false (counted, never audited: nothing was decided) at the limit. */
  admit(): boolean {
    this.slot = this.cfg.limit.admit();
    if (!this.slot) this.cfg.metrics?.refusedEarly(this.cfg.direction, 'limit');
    return this.slot !== null;
  }

  /**
   * The peer is now known: false (the slot is freed, the refusal counted, nothing audited) when
   * it is unauthenticated and unauthenticated peers already hold their whole share of the limit.
   */
  classify(authenticated: boolean): boolean {
    if (this.slot?.classify(authenticated) ?? true) return true;
    this.cfg.metrics?.refusedEarly(this.cfg.direction, 'unauthenticated-share');
    return false;
  }

  /** Counts it as open without carrying anything (a mux session: its streams are carried). */
  hold(): void {
    this.open();
  }

  /** Records the policy's verdict; returns whether it allows. */
  decide(d: Decision, reason = d.reason): boolean {
    this.record.decision = d.allow ? (d.audit ? 'audit' : 'allow') : 'deny';
    this.record.wouldDeny = d.wouldDeny === true;
    this.record.rule = d.rule;
    this.record.reason = reason;
    // A session's verdict only says whether streams may follow; each stream is counted.
    if (this.cfg.direction === 'inbound' && this.record.streams === undefined) this.cfg.metrics?.authorized(this.record, d);
    return d.allow;
  }

  /** Connects the other side (bounded by `dial`), splices, and closes the record. */
  async carry(o: CarryOptions): Promise<void> {
    let upstream: SpliceEnd;
    try {
      upstream = await o.dial();
    } catch (e) {
      if (o.downstream.destroyed) return this.close(LEFT_EARLY[this.cfg.direction]);
      const f = o.failed(e as NodeJS.ErrnoException);
      if (f.decision) this.record.decision = f.decision;
      if (f.reason !== undefined) this.record.reason = f.reason;
      if (o.abandon) o.abandon();
      else o.downstream.destroy();
      return this.close(f.closeReason);
    }
    if (o.downstream.destroyed) {
      upstream.destroy();
      return this.close(LEFT_EARLY[this.cfg.direction]);
    }
    o.connected?.(upstream);
    this.open();
    const app = (o.app === 'upstream' ? upstream : o.downstream) as SpliceEnd & Partial<Pick<Socket, 'bytesRead' | 'bytesWritten'>>;
    const peer = o.app === 'upstream' ? o.downstream : upstream;
    const drained = this.drainable(o.downstream, upstream);
    const result = await splice(app, peer, { idleTimeoutMs: this.cfg.idleTimeoutMs });
    drained.done();
    // Bytes the application was sent came from the peer (rx); what it sent went to the peer (tx).
    this.record.rx = app.bytesWritten ?? 0;
    this.record.tx = app.bytesRead ?? 0;
    this.close(drained.why ?? result.reason);
  }

  /**
   * Registers the carried connection for anchor drains (when its peer was authenticated):
   * closed at its first quiet moment, or when the grace period ends. `downstream` is the side
   * that dialled us, the client of whatever runs over it.
   */
  private drainable(downstream: SpliceEnd, upstream: SpliceEnd): { done: () => void; why: string | null } {
    const out = { done: () => undefined as void, why: null as string | null };
    if (!this.authenticatedBy || !this.cfg.drain) return out;
    let cancelQuiet = () => undefined as void;
    const end = (why: string) => {
      out.why ??= why;
      downstream.destroy();
      upstream.destroy();
    };
    const unregister = this.cfg.drain.add({
      direction: this.cfg.direction,
      kind: 'connection',
      tls: this.authenticatedBy,
      drain: () => (cancelQuiet = closeWhenQuiet(downstream, upstream, () => end('anchor-removed'))),
      close: () => end('anchor-removed:grace'),
    });
    out.done = () => {
      unregister();
      cancelQuiet();
    };
    return out;
  }

  /** Audits the close (and the open, if it never opened) and frees the slot. Idempotent. */
  close(closeReason: string, reason?: string): void {
    if (this.state === 'closed') return;
    if (reason !== undefined) this.record.reason = reason;
    this.open();
    this.state = 'closed';
    this.record.closeReason = closeReason;
    this.cfg.audit.closed(this.record);
    this.slot?.release();
  }

  /**
   * The bytes are carried elsewhere (the native relay, proxy/relay): audits the open once they
   * flow. `finished` closes it with what the application was sent (rx) and sent (tx).
   */
  opened(): void {
    this.open();
  }

  finished(rx: number, tx: number, closeReason: string): void {
    this.record.rx = rx;
    this.record.tx = tx;
    this.close(closeReason);
  }

  /** Frees the slot without a record (a connection handed over as a session, counted there). */
  release(): void {
    this.slot?.release();
  }

  private open(): void {
    if (this.state !== 'new') return;
    this.state = 'open';
    this.cfg.audit.opened(this.record);
  }
}
