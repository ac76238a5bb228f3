/**
 * Limits below grpc-js, on each HTTP/2 server it creates (see grpc-http2-hook.ts), so that a
 * client that never authenticates cannot hold the identity service's memory or sockets:
 *
 * - a stream's request must arrive whole within `requestTimeoutMs` of its first byte (the
 *   HEADERS frame); otherwise it is answered DEADLINE_EXCEEDED and reset. Without this a
 *   client holds a half-sent stream, and the data grpc-js buffered for it, forever; and a
 *   session with an open stream is never idle, so the idle timeout never closes it either;
 * - a session must send the HTTP/2 preface and SETTINGS within `prefaceTimeoutMs` of its TLS
 *   handshake (which Node bounds with `handshakeTimeout`, set in the credentials);
 * - a listener accepts at most `maxConnections` at once and drops the rest.
 *
 * Streams per session, message size, session memory and idle sessions are grpc-js options,
 * set in identity-server.ts. Every drop is counted; none is logged above debug, because an
 * attacker decides how many there are.
 */
import { status } from '@grpc/grpc-js';
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import type { Logger } from '../telemetry/logger.js';
import { Counter, Gauge, type Registry } from '../telemetry/metrics.js';
import { timerDelay } from '../util/duration.js';
import type { GrpcHttp2Server } from './grpc-http2-hook.js';

export interface Http2LimitsConfig {
  /** Time from a stream's HEADERS to its END_STREAM. Default 10s. */
  requestTimeoutMs?: number;
  /** Time from the TLS handshake to the client's HTTP/2 SETTINGS. Default 10s. */
  prefaceTimeoutMs?: number;
  /** Connections one listener holds at once. Default 10,000. */
  maxConnections?: number;
  registry: Registry;
  logger: Logger;
}

export const HTTP2_LIMIT_DEFAULTS = { requestTimeoutMs: 10_000, prefaceTimeoutMs: 10_000, maxConnections: 10_000 } as const;

export type DropReason = 'tls_handshake' | 'http2_preface' | 'connection_limit';

export class Http2Limits {
  private readonly requestTimeoutMs: number;
  private readonly prefaceTimeoutMs: number;
  private readonly maxConnections: number;
  private readonly sessionsOpen: Gauge;
  private readonly dropped: Counter<'reason'>;
  private readonly requestTimeouts: Counter;

  constructor(private readonly cfg: Http2LimitsConfig) {
    this.requestTimeoutMs = cfg.requestTimeoutMs ?? HTTP2_LIMIT_DEFAULTS.requestTimeoutMs;
    this.prefaceTimeoutMs = cfg.prefaceTimeoutMs ?? HTTP2_LIMIT_DEFAULTS.prefaceTimeoutMs;
    this.maxConnections = cfg.maxConnections ?? HTTP2_LIMIT_DEFAULTS.maxConnections;
    const registers = [cfg.registry];
    this.sessionsOpen = new Gauge({ name: 'lanyard_identity_connections_open', help: 'TLS connections with an HTTP/2 session open now.', registers });
    this.dropped = new Counter({
      name: 'lanyard_identity_connections_dropped_total',
      help: 'Connections closed by the server before serving a call: TLS handshake failed or too slow, no HTTP/2 preface in time, over the connection limit.',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['tls_handshake', 'http2_preface', 'connection_limit'] satisfies DropReason[]) this.dropped.inc({ reason }, 0);
    this.requestTimeouts = new Counter({
      name: 'lanyard_identity_request_timeouts_total',
      help: 'Streams reset because their request did not arrive in full in time (DEADLINE_EXCEEDED).',
      registers,
    });
  }

  attach(server: GrpcHttp2Server): void {
    server.maxConnections = this.maxConnections;
    server.on('drop', () => this.drop('connection_limit'));
    server.on('tlsClientError', (err: Error) => this.drop('tls_handshake', err.message));
    server.on('session', (session: ServerHttp2Session) => this.onSession(session));
    server.on('stream', (stream: ServerHttp2Stream) => this.onStream(stream));
  }

  private onSession(session: ServerHttp2Session): void {
    this.sessionsOpen.inc();
    const timer = setTimeout(() => {
      this.drop('http2_preface');
      session.destroy();
    }, timerDelay(this.prefaceTimeoutMs));
    timer.unref();
    session.once('remoteSettings', () => clearTimeout(timer));
    session.once('close', () => {
      clearTimeout(timer);
      this.sessionsOpen.dec();
    });
    session.on('error', () => {}); // the close that follows is what counts
  }

  private onStream(stream: ServerHttp2Stream): void {
    const timer = setTimeout(() => this.expire(stream), timerDelay(this.requestTimeoutMs));
    timer.unref();
    stream.once('close', () => clearTimeout(timer));
  }

  /** The request is late: answer with a status the client can read, then reset the stream. */
  private expire(stream: ServerHttp2Stream): void {
    if (stream.closed || stream.destroyed) return;
    // The client sent END_STREAM: the whole request is in and a handler is answering it.
    if (stream.state.remoteClose) return;
    this.requestTimeouts.inc();
    this.cfg.logger.debug({ event: 'request_timeout', peer: peerOf(stream), timeout_ms: this.requestTimeoutMs }, 'request did not arrive in time; stream reset');
    if (!stream.headersSent) {
      const message = `request not received in full within ${this.requestTimeoutMs}ms of its first byte`;
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-status': String(status.DEADLINE_EXCEEDED), 'grpc-message': encodeURIComponent(message) },
        { endStream: true },
      );
    }
    // A server that has answered may reset with NO_ERROR what the client is still sending (RFC 9113 §8.1).
    stream.close(constants.NGHTTP2_NO_ERROR);
  }

  private drop(reason: DropReason, detail?: string): void {
    this.dropped.inc({ reason });
    this.cfg.logger.debug({ event: 'connection_dropped', reason, ...(detail ? { detail } : {}) }, 'connection dropped');
  }
}

function peerOf(stream: ServerHttp2Stream): string {
  const s = stream.session?.socket;
  return s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : 'unknown';
}
