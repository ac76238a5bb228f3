/**
 * A Certify client on bare node:http2: TLS to the identity service, verifying its chain
 * against the trust anchors and its name against the identity it is expected to have, one
 * unary gRPC call per request. Written without grpc-js so the sidecar does not carry it
 * (and protobufjs) in memory; it speaks the standard gRPC-over-HTTP/2 protocol, and the
 * tests run it against the grpc-js server.
 */
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { decodeCertifyResponse, encodeCertifyRequest } from '../../src/proto/certify-codec.js';
import type { CertifyResponseMessage } from '../../src/proto/messages.js';

export const CERTIFY_PATH = '/io.linkerd.proxy.identity.Identity/Certify';

/** gRPC status codes used here (the full list is in the gRPC spec). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
const STATUS_NAMES = Object.fromEntries(Object.entries(GrpcStatus).map(([k, v]) => [v, k])) as Record<number, string>;

export interface CertifyClientConfig {
  /** `host:port` of the identity service. */
  address: string;
  /** The identity the service must present, e.g. lanyard-identity.lanyard.serviceaccount.identity.lanyard.cluster.local. */
  serverName: string;
  /** PEM trust anchors the service's chain must verify to. */
  trustAnchorsPem: string;
  /** Per-call deadline. Default 10s. */
  timeoutMs?: number;
}

/** A failed call: the gRPC status code and the server's message. */
export class CertifyError extends Error {
  constructor(
    readonly code: number,
    readonly details: string,
  ) {
    super(`Certify failed: ${STATUS_NAMES[code] ?? code}: ${details}`);
    this.name = 'CertifyError';
  }

  get codeName(): string {
    return STATUS_NAMES[this.code] ?? String(this.code);
  }
}

const MAX_RESPONSE = 1024 * 1024;

export class CertifyClient {
  private session: ClientHttp2Session | null = null;
  /** Why the current session failed (TLS, connect); a stream on it only reports "cancelled". */
  private sessionError: NodeJS.ErrnoException | null = null;

  constructor(private readonly cfg: CertifyClientConfig) {}

  certify(identity: string, token: string | Buffer, csr: Buffer): Promise<CertifyResponseMessage> {
    const msg = encodeCertifyRequest({ identity, token: Buffer.isBuffer(token) ? token : Buffer.from(token), certificate_signing_request: csr });
    const frame = Buffer.alloc(5 + msg.length);
    frame.writeUInt32BE(msg.length, 1);
    msg.copy(frame, 5);
    const timeoutMs = this.cfg.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      let session: ClientHttp2Session;
      try {
        session = this.connected();
      } catch (e) {
        reject(new CertifyError(GrpcStatus.UNAVAILABLE, (e as Error).message));
        return;
      }
      const stream = session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: CERTIFY_PATH,
        [constants.HTTP2_HEADER_AUTHORITY]: this.cfg.serverName,
        'content-type': 'application/grpc',
        te: 'trailers',
        'grpc-timeout': `${timeoutMs}m`,
      });
      let settled = false;
      const finish = (err: CertifyError | null, res?: CertifyResponseMessage) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve(res!);
      };
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        finish(new CertifyError(GrpcStatus.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const chunks: Buffer[] = [];
      let size = 0;
      let headerStatus: string | undefined;
      let headerMessage: string | undefined;
      stream.on('response', (h) => {
        // A "trailers-only" response carries the status in the headers.
        headerStatus = h['grpc-status'] as string | undefined;
        headerMessage = h['grpc-message'] as string | undefined;
      });
      stream.on('data', (d: Buffer) => {
        size += d.length;
        if (size > MAX_RESPONSE) {
          stream.close(constants.NGHTTP2_CANCEL);
          finish(new CertifyError(GrpcStatus.RESOURCE_EXHAUSTED, `response larger than ${MAX_RESPONSE} bytes`));
        } else chunks.push(d);
      });
      const complete = (status: string | undefined, message: string | undefined) => {
        if (status === undefined) return finish(new CertifyError(GrpcStatus.INTERNAL, 'response without grpc-status'));
        const code = Number(status);
        if (code !== GrpcStatus.OK) return finish(new CertifyError(code, decodeMessage(message)));
        try {
          finish(null, decodeCertifyResponse(unframe(Buffer.concat(chunks))));
        } catch (e) {
          finish(new CertifyError(GrpcStatus.INTERNAL, `malformed response: ${(e as Error).message}`));
        }
      };
      stream.on('trailers', (t) => complete(t['grpc-status'] as string | undefined, t['grpc-message'] as string | undefined));
      stream.on('end', () => {
        if (headerStatus !== undefined) complete(headerStatus, headerMessage);
      });
      const broken = (e: NodeJS.ErrnoException | null) => {
        // Let a session error that arrives in the same tick name the real cause.
        setImmediate(() => finish(new CertifyError(GrpcStatus.UNAVAILABLE, connectionMessage(this.sessionError ?? e, this.cfg, stream.rstCode))));
      };
      stream.on('close', () => broken(null));
      stream.on('error', (e: NodeJS.ErrnoException) => broken(e));
      stream.end(frame);
    });
  }

  close(): void {
    this.session?.close();
    this.session = null;
  }

  private connected(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const s = connect(`https://${this.cfg.address}`, { ca: this.cfg.trustAnchorsPem, servername: this.cfg.serverName, minVersion: 'TLSv1.2' });
    this.sessionError = null;
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (this.session === s) this.sessionError = e; // surfaced through the stream
    });
    s.on('close', () => {
      if (this.session === s) this.session = null;
    });
    s.setTimeout(5 * 60_000, () => s.close()); // drop an idle connection; refreshes are hours apart
    this.session = s;
    return s;
  }
}

function unframe(buf: Buffer): Buffer {
  if (buf.length < 5) throw new Error('no gRPC message');
  if (buf[0] !== 0) throw new Error('compressed messages are not supported');
  const len = buf.readUInt32BE(1);
  if (5 + len !== buf.length) throw new Error(`message length ${len} does not match ${buf.length - 5} bytes received`);
  return buf.subarray(5);
}

function decodeMessage(m: string | undefined): string {
  if (!m) return '';
  try {
    return decodeURIComponent(m);
  } catch {
    return m;
  }
}

function connectionMessage(e: NodeJS.ErrnoException | null, cfg: CertifyClientConfig, rstCode: number | undefined): string {
  if (!e) return `the identity service at ${cfg.address} closed the stream (HTTP/2 code ${rstCode ?? 'none'})`;
  if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `identity service at ${cfg.address} is not ${cfg.serverName}: ${e.message}`;
  if (e.code && /CERT|SELF_SIGNED|VERIFY|ISSUER/.test(e.code)) return `identity service certificate rejected (${e.code}): ${e.message}`;
  return `cannot reach the identity service at ${cfg.address}: ${e.code ?? e.message}`;
}
