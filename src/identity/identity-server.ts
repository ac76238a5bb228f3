/**
 * The gRPC face of the certificate authority: Certify over TLS, with one audit line and one
 * metrics sample per decision, and the limits that keep unauthenticated clients from holding
 * the service's memory or sockets:
 *
 * - grpc-js options: requests over 16 KiB are refused (RESOURCE_EXHAUSTED) before any of our
 *   code runs (a Certify request is a token and a CSR, about 2 KiB); 32 concurrent streams
 *   per connection; 4 MiB of HTTP/2 session memory; sessions idle (no open stream) past
 *   `idleTimeoutMs` are closed with GOAWAY; keepalive pings find dead peers;
 * - Node's TLS handshake timeout (in the credentials), and below grpc-js (http2-limits.ts): a
 *   deadline for each request to arrive, one for the HTTP/2 preface, and a connection cap.
 *
 * Metrics: Linkerd's controller vocabulary for the calls (`grpc_server_*`, counted per HTTP/2
 * stream so calls refused inside grpc-js count too), and `lanyard_identity_certify_requests_total`
 * by result (ok | refused | error) and reason code.
 */
import * as grpc from '@grpc/grpc-js';
import type { ServerHttp2Stream, IncomingHttpHeaders } from 'node:http2';
import { GrpcServerMetrics } from '../telemetry/grpc-server-metrics.js';
import { cutText } from '../telemetry/log-scrub.js';
import type { Logger } from '../telemetry/logger.js';
import { Counter, type Registry } from '../telemetry/metrics.js';
import { identityServiceDefinition, issuerStatusServiceDefinition, toTimestamp, type CertifyRequestMessage, type CertifyResponseMessage } from '../proto/index.js';
import type { CertificateAuthority, CertifyContext } from './certificate-authority.js';
import { classify } from './errors.js';
import { assertHooked, hookHttp2Servers, type GrpcHttp2Server } from './grpc-http2-hook.js';
import { Http2Limits, type Http2LimitsConfig } from './http2-limits.js';
import type { ReloadableServerCredentials } from '../serving/reloadable-server-credentials.js';
import { ISSUER_WATCH_METHOD, type IssuerStatusService } from './issuer-status-service.js';

/** A Certify request is a token (~1–2 KiB) and a CSR (~300 bytes); 16 KiB leaves room for large tokens. */
export const MAX_REQUEST_BYTES = 16 * 1024;
/** Certify is unary and proxies send one at a time; load clients multiplex 16. */
export const MAX_CONCURRENT_STREAMS = 32;
/** Node's per-session memory cap, in MiB; past it new streams are refused (ENHANCE_YOUR_CALM). */
export const MAX_SESSION_MEMORY_MIB = 4;
/** Longest status message and logged refusal message, in characters. */
export const MAX_STATUS_DETAILS = 1024;

export const SERVER_LIMIT_DEFAULTS = { idleTimeoutMs: 300_000, keepaliveTimeMs: 60_000, keepaliveTimeoutMs: 20_000 } as const;

export const CERTIFY_METHOD = { service: 'io.linkerd.proxy.identity.Identity', method: 'Certify', type: 'unary' } as const;

export type CertifyResult = 'ok' | 'refused' | 'error';

export interface IdentityServerConfig extends Omit<Http2LimitsConfig, 'registry' | 'logger'> {
  ca: CertificateAuthority;
  credentials: ReloadableServerCredentials;
  /** Lanyard's issuer status stream, served beside Certify on the same port. */
  issuerStatus?: IssuerStatusService;
  logger: Logger;
  registry: Registry;
  /** Sessions with no open stream for this long are closed (GOAWAY). Default 5m. */
  idleTimeoutMs?: number;
  /** Server keepalive ping period and ack deadline. Default 60s / 20s. */
  keepaliveTimeMs?: number;
  keepaliveTimeoutMs?: number;
}

export class IdentityServer {
  private readonly server: grpc.Server;
  private readonly requests: Counter<'result' | 'reason'>;
  private readonly grpcMetrics: GrpcServerMetrics;
  private readonly limits: Http2Limits;
  private readonly hooked: () => number;

  constructor(private readonly cfg: IdentityServerConfig) {
    this.requests = new Counter({
      name: 'lanyard_identity_certify_requests_total',
      help: 'Certify decisions, by result (ok, refused: the request was judged and refused, error: the service failed) and reason code.',
      labelNames: ['result', 'reason'],
      registers: [cfg.registry],
    });
    this.grpcMetrics = new GrpcServerMetrics(cfg.registry, cfg.issuerStatus ? [CERTIFY_METHOD, ISSUER_WATCH_METHOD] : [CERTIFY_METHOD]);
    this.limits = new Http2Limits({ ...cfg, registry: cfg.registry, logger: cfg.logger });
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
      'grpc.max_send_message_length': 1024 * 1024,
      'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS,
      'grpc-node.max_session_memory': MAX_SESSION_MEMORY_MIB,
      'grpc.max_connection_idle_ms': cfg.idleTimeoutMs ?? SERVER_LIMIT_DEFAULTS.idleTimeoutMs,
      'grpc.keepalive_time_ms': cfg.keepaliveTimeMs ?? SERVER_LIMIT_DEFAULTS.keepaliveTimeMs,
      'grpc.keepalive_timeout_ms': cfg.keepaliveTimeoutMs ?? SERVER_LIMIT_DEFAULTS.keepaliveTimeoutMs,
    });
    this.hooked = hookHttp2Servers(this.server, (h2) => {
      this.limits.attach(h2);
      this.observeCalls(h2);
    });
    const service = identityServiceDefinition().service;
    this.server.addService(service, { Certify: this.certify.bind(this) });
    if (cfg.issuerStatus) this.server.addService(issuerStatusServiceDefinition().service, cfg.issuerStatus.handlers());
  }

  /** Binds `host:port` (port 0 for any) and returns the bound port. */
  async listen(host: string, port: number): Promise<number> {
    const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    const bound = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(target, this.cfg.credentials, (err, p) => (err ? reject(new Error(`cannot listen on ${target}: ${err.message}`)) : resolve(p))),
    );
    assertHooked(this.hooked);
    return bound;
  }

  async close(graceMs = 2000): Promise<void> {
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, graceMs);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** grpc_server_* per HTTP/2 stream: a call refused inside grpc-js (too large, too slow) still counts. */
  private observeCalls(h2: GrpcHttp2Server): void {
    h2.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      const labels = this.grpcMetrics.method(headers[':path']);
      if (!labels) return;
      const started = process.hrtime.bigint();
      this.grpcMetrics.started(labels);
      stream.once('close', () => this.grpcMetrics.handled(labels, sentStatus(stream), Number(process.hrtime.bigint() - started) / 1e9));
    });
  }

  private certify(
    call: grpc.ServerUnaryCall<CertifyRequestMessage, CertifyResponseMessage>,
    callback: grpc.sendUnaryData<CertifyResponseMessage>,
  ): void {
    const labels = this.grpcMetrics.method(call.getPath())!;
    this.grpcMetrics.received(labels);
    const started = process.hrtime.bigint();
    const ctx: CertifyContext = {};
    this.cfg.ca.certify(call.request, ctx).then(
      (res) => {
        callback(null, { leaf_certificate: res.leaf, intermediate_certificates: res.chain, valid_until: toTimestamp(res.notAfter) });
        this.grpcMetrics.sent(labels);
        this.record(call, ctx, started, grpc.status.OK, 'issued', { serial: res.serial, not_after: res.notAfter.toISOString() });
      },
      (err: unknown) => {
        const c = classify(err);
        // The csr and token checks cut what they echo; this is the backstop for any message.
        const details = cutText(c.message, MAX_STATUS_DETAILS);
        callback({ code: c.grpc, details });
        if (c.code === 'ERR_INTERNAL') this.cfg.logger.error({ err }, 'Certify failed unexpectedly');
        this.record(call, ctx, started, c.grpc, c.code, { message: details });
      },
    );
  }

  private record(
    call: grpc.ServerUnaryCall<CertifyRequestMessage, CertifyResponseMessage>,
    ctx: CertifyContext,
    started: bigint,
    code: grpc.status,
    reason: string,
    extra: Record<string, string>,
  ): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const result = resultOf(code);
    this.requests.inc({ result, reason });
    this.cfg.logger.info(
      {
        event: 'certify',
        identity: ctx.identity ?? null,
        namespace: ctx.namespace ?? null,
        service_account: ctx.serviceAccount ?? null,
        result,
        grpc_status: grpc.status[code],
        reason,
        serial: extra.serial ?? null,
        not_after: extra.not_after ?? null,
        peer: call.getPeer(),
        duration_ms: Math.round(seconds * 1e6) / 1e3,
        ...(extra.message ? { message: extra.message } : {}),
      },
      'certify decision',
    );
  }
}

/**
 * One vocabulary across Lanyard: `refused` when we judged the caller's request and said no
 * (bad request, bad token, wrong identity), `error` when we could not decide (no issuer,
 * API server down, a bug).
 */
export function resultOf(code: grpc.status): CertifyResult {
  switch (code) {
    case grpc.status.OK:
      return 'ok';
    case grpc.status.INVALID_ARGUMENT:
    case grpc.status.UNAUTHENTICATED:
    case grpc.status.PERMISSION_DENIED:
    case grpc.status.FAILED_PRECONDITION:
    case grpc.status.RESOURCE_EXHAUSTED:
      return 'refused';
    default:
      return 'error';
  }
}

/** The grpc-status a stream was answered with (trailers, or a trailers-only response); none means cancelled. */
function sentStatus(stream: ServerHttp2Stream): number {
  const raw = stream.sentTrailers?.['grpc-status'] ?? stream.sentHeaders?.['grpc-status'];
  const code = raw === undefined ? grpc.status.CANCELLED : Number(raw);
  return Number.isInteger(code) ? code : grpc.status.UNKNOWN;
}
