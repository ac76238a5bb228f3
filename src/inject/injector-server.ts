/**
 * The admission webhook's HTTPS server: POST /inject with an AdmissionReview v1, answered by
 * admission-review.ts. It never crashes on input: a body that is too big, not JSON or not an
 * AdmissionReview gets a 4xx with a message; anything that fails on our side gets a 500 (the
 * API server then applies the webhook's failurePolicy). The certificate is swapped in place
 * when it is renewed.
 */
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, type Registry } from '../telemetry/metrics.js';
import type { Logger } from '../telemetry/logger.js';
import { BadReviewError, decide, readReview, type AdmissionAnswer } from './admission-review.js';
import type { InjectConfig } from './inject-config.js';
import type { NamespaceAnnotationReader } from './namespace-annotations.js';
import type { ServingKeyPair } from '../serving/certified-serving-certificate.js';

export interface InjectorServerConfig {
  host: string;
  port: number;
  /** The config to inject with now (it follows the trust bundle). */
  config: () => InjectConfig;
  namespaces: NamespaceAnnotationReader;
  excludedNamespaces: readonly string[];
  logger: Logger;
  registry: Registry;
  path?: string;
  /** Larger bodies get 413. Default 4 MiB (the API server's own request limit is 3 MiB). */
  maxBodyBytes?: number;
  /** A request must arrive whole within this. Default 10s (the longest webhook timeout is 30s). */
  requestTimeoutMs?: number;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class InjectorServer {
  private server: Server | null = null;
  private readonly reviews: Counter<'result' | 'decision'>;

  constructor(private readonly cfg: InjectorServerConfig) {
    this.reviews = new Counter({
      name: 'lanyard_injector_admission_reviews_total',
      help: 'AdmissionReviews answered, by result (ok, refused, error) and decision (injected, unchanged, skipped, refused, bad_request, error)',
      labelNames: ['result', 'decision'],
      registers: [cfg.registry],
    });
  }

  async start(pair: ServingKeyPair): Promise<AddressInfo> {
    const server = createServer({ key: pair.keyPem, cert: pair.chainPem, minVersion: 'TLSv1.2' }, (req, res) => void this.handle(req, res));
    server.requestTimeout = this.cfg.requestTimeoutMs ?? 10_000;
    server.headersTimeout = Math.min(server.requestTimeout, 10_000);
    server.on('tlsClientError', (err) => this.cfg.logger.debug({ reason: err.message }, 'TLS handshake failed'));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.cfg.port, this.cfg.host, () => (server.off('error', reject), resolve()));
    });
    return server.address() as AddressInfo;
  }

  /** New connections get the new certificate; open ones keep theirs. */
  updateCertificate(pair: ServingKeyPair): void {
    this.server?.setSecureContext({ key: pair.keyPem, cert: pair.chainPem, minVersion: 'TLSv1.2' });
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (!s) return;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== (this.cfg.path ?? '/inject')) throw new HttpError(404, `no such path ${path.slice(0, 100)}; the webhook is POST ${this.cfg.path ?? '/inject'}`);
      if (req.method !== 'POST') throw new HttpError(405, `method ${req.method} not allowed; use POST`);
      const type = (req.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'application/json') throw new HttpError(415, `content type ${JSON.stringify(type)} not supported; expected application/json`);
      const body = await this.readBody(req);
      let parsed: unknown;
      try {
        parsed = JSON.parse(body.toString('utf8'));
      } catch (e) {
        throw new HttpError(400, `the body is not JSON: ${(e as Error).message.slice(0, 200)}`);
      }
      const answer = await this.answer(parsed);
      this.reviews.inc({ result: answer.decision === 'refused' ? 'refused' : 'ok', decision: answer.decision });
      this.cfg.logger.info({ event: 'admission_review', uid: answer.review.response.uid, decision: answer.decision, reason: answer.reason }, 'admission review answered');
      send(res, 200, JSON.stringify(answer.review));
    } catch (e) {
      const status = e instanceof HttpError ? e.status : e instanceof BadReviewError ? 400 : 500;
      const message = e instanceof BadReviewError ? `not an AdmissionReview v1: ${e.message}` : (e as Error).message;
      this.reviews.inc({ result: status < 500 ? 'refused' : 'error', decision: status < 500 ? 'bad_request' : 'error' });
      this.cfg.logger[status < 500 ? 'info' : 'error']({ event: 'admission_review', status, reason: message }, 'admission review not answered');
      if (!res.headersSent) send(res, status, JSON.stringify({ message: `lanyard injector: ${message}` }));
    }
  }

  private async answer(body: unknown): Promise<AdmissionAnswer> {
    const read = readReview(body);
    if ('review' in read) return read;
    const namespaceAnnotations = this.cfg.excludedNamespaces.includes(read.namespace) ? {} : await this.cfg.namespaces.annotations(read.namespace);
    return decide({ request: read, namespaceAnnotations, cfg: this.cfg.config(), excludedNamespaces: this.cfg.excludedNamespaces });
  }

  private readBody(req: IncomingMessage): Promise<Buffer> {
    const max = this.cfg.maxBodyBytes ?? 4 * 1024 * 1024;
    const declared = Number(req.headers['content-length'] ?? NaN);
    // The rest of a too-big body is read and dropped (within requestTimeout), so the client
    // gets to read our 413 instead of a reset.
    if (declared > max) {
      req.resume();
      return Promise.reject(new HttpError(413, `body of ${declared} bytes is larger than the ${max} bytes allowed`));
    }
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > max) {
          req.removeAllListeners('data');
          req.resume();
          reject(new HttpError(413, `body larger than the ${max} bytes allowed`));
        } else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}
