/**
 * The gRPC-over-HTTP/2 client the sidecar uses for Certify and Discovery, on bare
 * node:http2 (grpc-js and protobufjs would cost the sidecar ~8 MB of memory for two
 * methods). One HTTP/2 connection, reopened on demand; unary calls with deadlines and
 * server-streaming calls; gRPC framing and status handling per the gRPC HTTP/2 protocol.
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';
import { SessionGuard } from '../io/session-guard.js';

export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
const STATUS_NAMES = Object.fromEntries(Object.entries(GrpcStatus).map(([k, v]) => [v, k])) as Record<number, string>;

export class GrpcError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`${STATUS_NAMES[code] ?? code}: ${details}`);
    this.name = 'GrpcError';
  }

  get codeName(): string {
    return STATUS_NAMES[this.code] ?? String(this.code);
  }
}

export interface GrpcChannelConfig {
  /** `host:port`. */
  address: string;
  /** TLS: the name the server must present and the anchors its chain must verify to. Absent: plaintext (h2c). */
  tls?: { serverName: string; trustAnchorsPem: string };
  /** Largest message accepted. Default 1 MiB. */
  maxMessageBytes?: number;
  /** Close the connection after this long with no call open. Default 5 min. */
  idleTimeoutMs?: number;
  /** The server's HTTP/2 SETTINGS must arrive within this after connecting. Default 10s. */
  connectTimeoutMs?: number;
  /** PING keepalive: a server that stops answering is dropped within this. Default 20s; 0 disables. */
  keepaliveMs?: number;
}

export class GrpcChannel {
  private session: ClientHttp2Session | null = null;
  private guard: SessionGuard | null = null;
  /** Why the current connection failed (TLS, connect): a stream on it only reports "cancelled". */
  private sessionError: NodeJS.ErrnoException | null = null;
  private anchors: string | undefined;

  constructor(private readonly cfg: GrpcChannelConfig) {
    this.anchors = cfg.tls?.trustAnchorsPem;
  }

  /**
   * New trust anchors: connections made from now on verify the server against them. The open
   * connection keeps the server it authenticated, so a bundle update never turns into failed
   * calls while the server is still being re-certified under the new anchors.
   */
  setTrustAnchors(pem: string): void {
    this.anchors = pem;
  }

  /** One request, one response message. */
  unary(path: string, request: Buffer, timeoutMs: number): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      let response: Buffer | null = null;
      const call = this.call(path, request, timeoutMs, {
        onMessage: (m) => {
          if (response) return call.cancel(new GrpcError(GrpcStatus.INTERNAL, 'more than one response message to a unary call'));
          response = m;
        },
        onEnd: (err) => (err ? reject(err) : response ? resolve(response) : reject(new GrpcError(GrpcStatus.INTERNAL, 'no response message'))),
      });
    });
  }

  /** A server-streaming call; `onEnd` is called exactly once. */
  call(path: string, request: Buffer, timeoutMs: number | null, h: { onMessage: (m: Buffer) => void; onEnd: (err: GrpcError | null) => void }): { cancel: (err?: GrpcError) => void } {
    let ended = false;
    const end = (err: GrpcError | null) => {
      if (ended) return;
      ended = true;
      if (timer) clearTimeout(timer);
      h.onEnd(err);
    };
    let stream: ClientHttp2Stream;
    try {
      const session = this.connected();
      stream = session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: path,
        ...(this.cfg.tls ? { [constants.HTTP2_HEADER_AUTHORITY]: this.cfg.tls.serverName } : {}),
        'content-type': 'application/grpc',
        te: 'trailers',
        ...(timeoutMs ? { 'grpc-timeout': `${timeoutMs}m` } : {}),
      });
    } catch (e) {
      queueMicrotask(() => end(new GrpcError(GrpcStatus.UNAVAILABLE, this.describe(e as NodeJS.ErrnoException))));
      return { cancel: () => undefined };
    }
    this.guard!.track(stream);
    const cancel = (err?: GrpcError) => {
      stream.close(constants.NGHTTP2_CANCEL);
      end(err ?? new GrpcError(GrpcStatus.CANCELLED, 'cancelled'));
    };
    const timer = timeoutMs ? setTimeout(() => cancel(new GrpcError(GrpcStatus.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`)), timeoutMs) : null;
    const max = this.cfg.maxMessageBytes ?? 1024 * 1024;
    let pending: Buffer = Buffer.alloc(0);
    let headerStatus: { status?: string; message?: string } | null = null;
    stream.on('response', (hdrs) => {
      if (hdrs['grpc-status'] !== undefined) headerStatus = { status: hdrs['grpc-status'] as string, message: hdrs['grpc-message'] as string | undefined };
    });
    stream.on('data', (d: Buffer) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      while (pending.length >= 5) {
        if (pending[0] !== 0) return cancel(new GrpcError(GrpcStatus.INTERNAL, 'compressed messages are not supported'));
        const len = pending.readUInt32BE(1);
        if (len > max) return cancel(new GrpcError(GrpcStatus.RESOURCE_EXHAUSTED, `message of ${len} bytes exceeds ${max}`));
        if (pending.length < 5 + len) break;
        const msg = pending.subarray(5, 5 + len);
        pending = pending.subarray(5 + len);
        if (!ended) h.onMessage(msg);
      }
    });
    const finish = (status: string | undefined, message: string | undefined) => {
      if (status === undefined) return end(new GrpcError(GrpcStatus.INTERNAL, 'response without grpc-status'));
      const code = Number(status);
      if (code !== GrpcStatus.OK) return end(new GrpcError(code, decodeMessage(message)));
      if (pending.length) return end(new GrpcError(GrpcStatus.INTERNAL, 'truncated message'));
      end(null);
    };
    stream.on('trailers', (t) => finish(t['grpc-status'] as string | undefined, t['grpc-message'] as string | undefined));
    stream.on('end', () => {
      if (headerStatus) finish(headerStatus.status, headerStatus.message);
    });
    const broken = (e: NodeJS.ErrnoException | null) => {
      // A session error raised in the same tick names the real cause.
      setImmediate(() => end(new GrpcError(GrpcStatus.UNAVAILABLE, this.describe(this.sessionError ?? e, stream.rstCode))));
    };
    stream.on('close', () => broken(null));
    stream.on('error', (e: NodeJS.ErrnoException) => broken(e));
    stream.end(frame(request));
    return { cancel };
  }

  close(): void {
    this.session?.close();
    this.session = null;
  }

  private connected(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const tls = this.cfg.tls;
    const s = tls
      ? connect(`https://${this.cfg.address}`, { ca: this.anchors, servername: tls.serverName, minVersion: 'TLSv1.2' })
      : connect(`http://${this.cfg.address}`);
    this.sessionError = null;
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (this.session === s) this.sessionError = e;
    });
    s.on('close', () => {
      if (this.session === s) this.session = null;
    });
    // Close only when no call is open (a Watch is silent for hours); a server that stops
    // answering, or never answers at all, is found by the guard and its calls fail UNAVAILABLE.
    this.guard = new SessionGuard(s, { setupTimeoutMs: this.cfg.connectTimeoutMs ?? 10_000, keepaliveMs: this.cfg.keepaliveMs, idleMs: this.cfg.idleTimeoutMs ?? 5 * 60_000 });
    this.session = s;
    return s;
  }

  private describe(e: NodeJS.ErrnoException | null, rstCode?: number): string {
    const where = this.cfg.address;
    if (!e) return `${where} closed the stream (HTTP/2 code ${rstCode ?? 'none'})`;
    if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${where} is not ${this.cfg.tls?.serverName}: ${e.message}`;
    if (e.code && /CERT|SELF_SIGNED|VERIFY|ISSUER/.test(e.code)) return `${where}: certificate rejected (${e.code}): ${e.message}`;
    if (e.code?.startsWith('ERR_LANYARD_')) return `${where}: ${e.message}`;
    return `cannot reach ${where}: ${e.code ?? e.message}`;
  }
}

/** A gRPC length-prefixed message: 1 byte not-compressed, 4 bytes length, the message. */
export function frame(msg: Buffer): Buffer {
  const out = Buffer.alloc(5 + msg.length);
  out.writeUInt32BE(msg.length, 1);
  msg.copy(out, 5);
  return out;
}

function decodeMessage(m: string | undefined): string {
  if (!m) return '';
  try {
    return decodeURIComponent(m);
  } catch {
    return m;
  }
}
