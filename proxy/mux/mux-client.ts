/**
 * The outbound side of the multiplexed transport: per (upstream, identity, TLS generation),
 * one mutual-TLS connection that, when the peer selects `lanyard.mux.v1`, becomes an HTTP/2
 * session; application connections become CONNECT streams on it. If the peer does not
 * select the ALPN, the TLS connection is handed to the dial that made it as a classic one,
 * and this upstream is dialled classically for a while.
 *
 * Every wait is bounded by `timeoutMs`: the shared session's setup (TCP, TLS, the peer's
 * SETTINGS) destroys its socket on expiry and so fails every dial waiting on it; a stream the
 * peer does not answer is cancelled. A session's liveness (keepalive, idle, the peer leaving,
 * certificate expiry) is kept by its SessionGuard.
 *
 * When the certificate or the anchors change (a new TLS generation), existing sessions are
 * drained: their streams finish, new streams go to a session made with the new material.
 */
import { connect as h2connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { DialTimeoutError } from '../io/dial.js';
import { SessionGuard, type SessionEnd } from '../io/session-guard.js';
import { presentedBy, type PresentedCertificate } from '../tls/presented-certificate.js';
import { authorityFor, MUX_ALPN, MUX_SESSION_WINDOW, MUX_SETTINGS, PEER_STATUS_REASONS } from './mux-protocol.js';

/** What the dialler hands back: something to splice with, and how it was made. */
export interface DialResult {
  stream: Duplex & { setTimeout(ms: number, cb?: () => void): unknown };
  /** True for a stream on a shared session; false for a dedicated TLS connection. */
  multiplexed: boolean;
  /** The TLS handshake (if this dial made one) resumed a session. */
  resumed: boolean;
  /** A handshake was made for this dial (its duration is worth recording). */
  handshake: boolean;
  /** The TLS connection that authenticated the upstream (a stream: its session's). */
  tls: TLSSocket;
  /** The certificate the upstream presented (read once per TLS connection, for the audit). */
  presented: PresentedCertificate;
}

export interface MuxClientConfig {
  /** Makes a TLS connection offering the given ALPN list (identity checks included). */
  connectTls: (alpn: string[]) => TLSSocket;
  /** Generation of the TLS material the connection would be made with. */
  generation: () => number;
  /** NotAfter (epoch ms) of the certificate connections are made with now, or null. */
  certificateExpiry?: () => number | null;
  /** Bound on session setup (TCP + TLS + SETTINGS), and on the peer's answer to a stream. Default 15s. */
  timeoutMs?: number;
  /** A session whose peer answers no PING for this long is replaced. Default 20s; 0 disables. */
  keepaliveMs?: number;
  /** How long an upstream that refused the mux ALPN is dialled classically. Default 5 min. */
  classicMemoryMs?: number;
  /** Close a session without streams after this long. Default 2 min. */
  idleMs?: number;
  /** False: always the classic transport. Default true. */
  multiplex?: boolean;
  /** Told when a session is established (with its TLS connection, for anchor drains), and once when it ends, with why. */
  onSessionOpen?: (tls: TLSSocket, h2: ClientHttp2Session) => void;
  onSessionEnd?: (why: SessionEnd, streamsCarried: number) => void;
}

/** A stream the peer did not process (refused, or the session was going away): safe to retry. */
class RetryableStreamError extends Error {}

function isRetryable(stream: ClientHttp2Stream): boolean {
  return stream.rstCode === constants.NGHTTP2_REFUSED_STREAM || stream.session?.closed === true || stream.session?.destroyed === true;
}


interface Session {
  generation: number;
  tls: TLSSocket;
  h2: ClientHttp2Session;
  guard: SessionGuard;
  carried: number;
  presented: PresentedCertificate;
}

export class MuxClient {
  private session: Session | null = null;
  private connecting: Promise<Session | TLSSocket> | null = null;
  private classicUntil = 0;
  private lastUsed = Date.now();

  constructor(private readonly cfg: MuxClientConfig) {}

  private get timeoutMs(): number {
    return this.cfg.timeoutMs ?? 15_000;
  }

  /**
   * Opens a path to `port` on the upstream: a stream when possible, else a TLS connection.
   * A stream is handed over only once the peer accepted it (200), so a stream refused
   * because the session was going away can be retried on a new session before any of the
   * application's bytes were read.
   */
  async dial(port: number): Promise<DialResult> {
    this.lastUsed = Date.now();
    const deadline = Date.now() + this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      if (this.cfg.multiplex === false || Date.now() < this.classicUntil) return this.classic();
      let session = this.live();
      let handshake = false;
      if (!session) {
        const mine = !this.connecting;
        if (mine) this.connecting = this.connectSession().finally(() => (this.connecting = null));
        const made = await this.connecting!;
        if (!('h2' in made)) {
          // The peer chose the classic transport: that TLS connection belongs to the dial that made it.
          if (mine) return { stream: made, multiplexed: false, resumed: made.isSessionReused(), handshake: true, tls: made, presented: presentedBy(made) };
          continue;
        }
        session = made;
        handshake = mine;
      }
      try {
        return await this.stream(session, port, handshake, deadline);
      } catch (e) {
        if (!(e instanceof RetryableStreamError) || attempt >= 2 || Date.now() >= deadline) throw e;
        if (this.session === session) this.session = null; // it is going away: use a new one
      }
    }
  }

  /** True when it holds no session and has not dialled for `ms`: the owner may forget it. */
  unusedFor(ms: number): boolean {
    return !this.connecting && (!this.session || this.session.h2.closed || this.session.h2.destroyed) && Date.now() - this.lastUsed > ms;
  }

  /** Closes idle sessions and drains all (on stop). */
  close(): void {
    this.session?.h2.close();
    this.session = null;
  }

  private live(): Session | null {
    const s = this.session;
    if (!s) return null;
    if (s.h2.closed || s.h2.destroyed || s.guard.expired || s.generation !== this.cfg.generation()) {
      // Drain: the session finishes its streams; new ones go to a fresh session.
      if (!s.h2.closed && !s.h2.destroyed) s.h2.close();
      this.session = null;
      return null;
    }
    return s;
  }

  /** TLS (bounded), then HTTP/2 if the peer selected the ALPN; the guard bounds its SETTINGS. */
  private connectSession(): Promise<Session | TLSSocket> {
    const generation = this.cfg.generation();
    return this.handshake([MUX_ALPN]).then((tls) => {
      if (tls.alpnProtocol !== MUX_ALPN) {
        this.classicUntil = Date.now() + (this.cfg.classicMemoryMs ?? 300_000);
        return tls;
      }
      const h2 = h2connect(`https://${tls.servername}`, { createConnection: () => tls, settings: MUX_SETTINGS });
      h2.on('error', () => undefined); // streams report their own failures
      h2.once('remoteSettings', () => h2.setLocalWindowSize(MUX_SESSION_WINDOW));
      const guard = new SessionGuard(h2, {
        socket: tls,
        setupTimeoutMs: this.timeoutMs,
        keepaliveMs: this.cfg.keepaliveMs,
        idleMs: this.cfg.idleMs ?? 120_000,
        expiresAt: earliest(this.cfg.certificateExpiry?.() ?? null, Date.parse(tls.getPeerCertificate().valid_to)),
      });
      const session: Session = { generation, tls, h2, guard, carried: 0, presented: presentedBy(tls) };
      h2.once('close', () => {
        if (this.session === session) this.session = null;
        this.cfg.onSessionEnd?.(guard.ended ?? 'closed', session.carried);
      });
      this.session = session;
      this.cfg.onSessionOpen?.(tls, h2);
      return session;
    });
  }

  /** A TLS connection, secure within the timeout; on expiry the socket is destroyed. */
  private handshake(alpn: string[]): Promise<TLSSocket> {
    const tls = this.cfg.connectTls(alpn);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        tls.destroy();
        reject(new DialTimeoutError('TLS handshake', this.timeoutMs));
      }, this.timeoutMs);
      tls.once('error', (e) => (clearTimeout(timer), reject(e)));
      tls.once('secureConnect', () => {
        clearTimeout(timer);
        tls.removeAllListeners('error');
        tls.on('error', () => undefined); // the splice or the session reports later failures
        resolve(tls);
      });
    });
  }

  private stream(s: Session, port: number, handshake: boolean, deadline: number): Promise<DialResult> {
    return new Promise((resolve, reject) => {
      let stream: ClientHttp2Stream;
      try {
        stream = s.h2.request({ [constants.HTTP2_HEADER_METHOD]: 'CONNECT', [constants.HTTP2_HEADER_AUTHORITY]: authorityFor(port) });
      } catch (e) {
        // The session closed between live() and request().
        return reject(new RetryableStreamError((e as Error).message));
      }
      s.guard.track(stream);
      s.carried++;
      const settle = () => {
        clearTimeout(timer);
        stream.off('response', onResponse);
        stream.off('error', onError);
        stream.off('close', onClose);
      };
      const fail = (err: Error) => {
        settle();
        stream.on('error', () => undefined);
        stream.destroy();
        reject(err);
      };
      const onResponse = (headers: Record<string, unknown>) => {
        const status = Number(headers[constants.HTTP2_HEADER_STATUS]);
        if (status === 200) return (settle(), resolve({ stream, multiplexed: true, resumed: false, handshake, tls: s.tls, presented: s.presented }));
        const err = new Error(PEER_STATUS_REASONS[status] ?? `the peer proxy answered ${status}`) as NodeJS.ErrnoException;
        err.code = `ERR_LANYARD_MUX_${status}`;
        fail(err);
      };
      const onError = (e: NodeJS.ErrnoException) => fail(isRetryable(stream) ? new RetryableStreamError(e.message) : e);
      const onClose = () => fail(isRetryable(stream) ? new RetryableStreamError('stream refused') : new Error(`stream closed before it was accepted (HTTP/2 code ${stream.rstCode})`));
      const wait = Math.max(1, deadline - Date.now());
      const timer = setTimeout(() => fail(new DialTimeoutError('the peer proxy answering the stream', wait)), wait);
      stream.once('response', onResponse);
      stream.once('error', onError);
      stream.once('close', onClose);
    });
  }

  private async classic(): Promise<DialResult> {
    const tls = await this.handshake([]);
    return { stream: tls, multiplexed: false, resumed: tls.isSessionReused(), handshake: true, tls, presented: presentedBy(tls) };
  }
}

/** The earlier of two expiries (epoch ms); `b` NaN (an unparsable NotAfter) counts as none. */
export function earliest(a: number | null, b: number): number | null {
  if (Number.isNaN(b)) return a;
  return a === null ? b : Math.min(a, b);
}
