/**
 * What keeps a long-lived HTTP/2 session honest, for the mux sessions (both sides) and the
 * sidecar's gRPC channels: every wait on it has a bound, and each bound does something.
 *
 * - setup: the peer's SETTINGS must arrive within `setupTimeoutMs`, else the session is destroyed;
 * - keepalive: a PING every `keepaliveMs / 2`; one still unanswered at the next tick destroys
 *   the session, so a peer that stops answering but keeps TCP open (a stopped process, a
 *   blackholed link) is found within `keepaliveMs`. Not on a closing session: it takes no new
 *   stream, and Node cancels its PINGs;
 * - idle: with no stream open for `idleMs`, the session closes gracefully. Streams are counted
 *   here: Node 20's `Http2Session.state` has no `streamsOpen`, and socket inactivity cannot
 *   tell an idle session from one carrying a quiet long-lived stream (or from keepalive PINGs);
 * - the peer leaving: the socket's end (FIN without GOAWAY, a killed peer) destroys the session,
 *   which otherwise sits in CLOSE-WAIT holding its slot;
 * - expiry: at `expiresAt` (a certificate's NotAfter) the session closes gracefully, so no new
 *   stream rides on an identity that is no longer valid.
 */
import type { Http2Session, Http2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import { timerDelay } from '../../src/util/duration.js';

export type SessionEnd = 'setup-timeout' | 'keepalive-timeout' | 'idle' | 'expired' | 'peer-left' | 'closed';

export interface SessionGuardOptions {
  /** The session's transport when it half-closes on FIN (allowHalfOpen): its 'end' is the peer leaving. */
  socket?: Duplex;
  /** Default 10s; 0 disables. */
  setupTimeoutMs?: number;
  /** Detection bound for a silent peer. Default 20s; 0 disables. */
  keepaliveMs?: number;
  /** Close after this long with no stream open. 0 (the default) disables. */
  idleMs?: number;
  /** Epoch ms after which no new stream may start (the earliest certificate NotAfter). */
  expiresAt?: number | null;
}

export class SessionGuard {
  /** Streams open now. */
  streams = 0;
  /** Why the session ended, once it has. */
  ended: SessionEnd | null = null;
  private setupTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private idleTimer: NodeJS.Timeout | null = null;
  private expiryTimer: NodeJS.Timeout | null = null;
  private awaitingPong = false;

  constructor(
    private readonly session: Http2Session,
    private readonly o: SessionGuardOptions,
  ) {
    const setup = o.setupTimeoutMs ?? 10_000;
    if (setup > 0) this.setupTimer = unref(setTimeout(() => this.destroy('setup-timeout'), setup));
    // 'connect' fires before the peer has said anything; its SETTINGS prove it speaks HTTP/2.
    session.once('remoteSettings', () => this.established());
    session.once('close', () => this.stop());
    o.socket?.once('end', () => this.destroy('peer-left'));
    if (o.expiresAt != null) this.expiryTimer = unref(setTimeout(() => this.end('expired'), timerDelay(o.expiresAt - Date.now())));
    this.idle();
  }

  /** Counts `stream` until it closes. */
  track(stream: Http2Stream): void {
    this.streams++;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    stream.once('close', () => {
      this.streams--;
      this.idle();
    });
  }

  /** True when no new stream should start on the session. */
  get expired(): boolean {
    return this.ended !== null || (this.o.expiresAt != null && Date.now() >= this.o.expiresAt);
  }

  private established(): void {
    if (this.setupTimer) clearTimeout(this.setupTimer);
    this.setupTimer = null;
    const keepalive = this.o.keepaliveMs ?? 20_000;
    if (keepalive <= 0 || this.session.destroyed) return;
    this.pingTimer = unref(setInterval(() => this.ping(), Math.max(1, Math.floor(keepalive / 2))));
  }

  private ping(): void {
    // A closing session (GOAWAY sent or received) takes no new stream, and Node cancels every
    // PING on it: its remaining streams end on their own, or by the splice's idle timeout.
    if (this.session.closed) {
      this.awaitingPong = false;
      return;
    }
    if (this.awaitingPong) return this.destroy('keepalive-timeout');
    this.awaitingPong = true;
    try {
      this.session.ping((err) => {
        if (!err) this.awaitingPong = false;
      });
    } catch {
      // The session is closing: its own close ends the timers.
    }
  }

  private idle(): void {
    const ms = this.o.idleMs ?? 0;
    if (ms <= 0 || this.streams > 0 || this.idleTimer) return;
    this.idleTimer = unref(setTimeout(() => this.end('idle'), timerDelay(ms)));
  }

  /** Graceful: open streams finish, new ones are refused. */
  private end(why: SessionEnd): void {
    this.ended ??= why;
    if (!this.session.closed && !this.session.destroyed) this.session.close();
  }

  private destroy(why: SessionEnd): void {
    this.ended ??= why;
    // With an error, so callers waiting on the session's streams can say what happened.
    if (!this.session.destroyed) this.session.destroy(why === 'peer-left' ? undefined : new SessionGuardError(why, this.o));
    this.o.socket?.destroy();
  }

  private stop(): void {
    this.ended ??= 'closed';
    for (const t of [this.setupTimer, this.idleTimer, this.expiryTimer]) if (t) clearTimeout(t);
    if (this.pingTimer) clearInterval(this.pingTimer);
    this.setupTimer = this.idleTimer = this.expiryTimer = this.pingTimer = null;
  }
}

/** Why a guard destroyed a session: `code` is ERR_LANYARD_SETUP_TIMEOUT or ERR_LANYARD_KEEPALIVE_TIMEOUT. */
export class SessionGuardError extends Error {
  readonly code: string;

  constructor(why: SessionEnd, o: SessionGuardOptions) {
    super(why === 'setup-timeout' ? `no HTTP/2 SETTINGS from the peer within ${o.setupTimeoutMs ?? 10_000} ms` : `the peer answered no PING within ${o.keepaliveMs ?? 20_000} ms`);
    this.name = 'SessionGuardError';
    this.code = why === 'setup-timeout' ? 'ERR_LANYARD_SETUP_TIMEOUT' : 'ERR_LANYARD_KEEPALIVE_TIMEOUT';
  }
}

function unref<T extends NodeJS.Timeout>(t: T): T {
  t.unref();
  return t;
}
