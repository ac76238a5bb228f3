/**
 * The gRPC face of the certificate authority: Certify over TLS, with one audit line and one
 * metrics sample per decision. Requests over 64 KiB are refused by grpc-js itself
 * (RESOURCE_EXHAUSTED) before any of our code runs.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../telemetry/logger.js';
import { Counter, Histogram, type Registry } from '../telemetry/metrics.js';
import { identityServiceDefinition, toTimestamp, type CertifyRequestMessage, type CertifyResponseMessage } from '../proto/index.js';
import type { CertificateAuthority, CertifyContext } from './certificate-authority.js';
import { classify } from './errors.js';
import type { ReloadableServerCredentials } from './reloadable-credentials.js';

export const MAX_REQUEST_BYTES = 64 * 1024;

export interface IdentityServerConfig {
  ca: CertificateAuthority;
  credentials: ReloadableServerCredentials;
  logger: Logger;
  registry: Registry;
}

export class IdentityServer {
  private readonly server: grpc.Server;
  private readonly requests: Counter<'result' | 'reason'>;
  private readonly latency: Histogram<'result'>;

  constructor(private readonly cfg: IdentityServerConfig) {
    this.requests = new Counter({
      name: 'lanyard_identity_certify_requests_total',
      help: 'Certify decisions, by gRPC result code and reason.',
      labelNames: ['result', 'reason'],
      registers: [cfg.registry],
    });
    this.latency = new Histogram({
      name: 'lanyard_identity_certify_duration_seconds',
      help: 'Time to decide a Certify request.',
      labelNames: ['result'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [cfg.registry],
    });
    this.server = new grpc.Server({
      'grpc.max_receive_message_length': MAX_REQUEST_BYTES,
      'grpc.max_send_message_length': 1024 * 1024,
      'grpc.keepalive_permit_without_calls': 1,
    });
    const service = identityServiceDefinition().service;
    this.server.addService(service, { Certify: this.certify.bind(this) });
  }

  /** Binds `host:port` (port 0 for any) and returns the bound port. */
  async listen(host: string, port: number): Promise<number> {
    const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) =>
      this.server.bindAsync(target, this.cfg.credentials, (err, bound) => (err ? reject(new Error(`cannot listen on ${target}: ${err.message}`)) : resolve(bound))),
    );
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

  private certify(
    call: grpc.ServerUnaryCall<CertifyRequestMessage, CertifyResponseMessage>,
    callback: grpc.sendUnaryData<CertifyResponseMessage>,
  ): void {
    const started = process.hrtime.bigint();
    const ctx: CertifyContext = {};
    this.cfg.ca.certify(call.request, ctx).then(
      (res) => {
        callback(null, { leaf_certificate: res.leaf, intermediate_certificates: res.chain, valid_until: toTimestamp(res.notAfter) });
        this.record(call, ctx, started, 'OK', 'issued', { serial: res.serial, not_after: res.notAfter.toISOString() });
      },
      (err: unknown) => {
        const c = classify(err);
        callback({ code: c.grpc, details: c.message });
        if (c.code === 'ERR_INTERNAL') this.cfg.logger.error({ err }, 'Certify failed unexpectedly');
        this.record(call, ctx, started, grpc.status[c.grpc], c.code, { message: c.message });
      },
    );
  }

  private record(
    call: grpc.ServerUnaryCall<CertifyRequestMessage, CertifyResponseMessage>,
    ctx: CertifyContext,
    started: bigint,
    result: string,
    reason: string,
    extra: Record<string, string>,
  ): void {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    this.requests.inc({ result, reason });
    this.latency.observe({ result }, seconds);
    this.cfg.logger.info(
      {
        event: 'certify',
        identity: ctx.identity ?? null,
        namespace: ctx.namespace ?? null,
        service_account: ctx.serviceAccount ?? null,
        result,
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
