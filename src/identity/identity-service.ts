/**
 * The identity service assembled: issuer store, certificate authority, serving certificate,
 * gRPC server and admin HTTP. Everything it talks to is passed in, so tests run it
 * in-process and the CLI runs it for real.
 */
import type { AddressInfo } from 'node:net';
import type { CsrSignatureVerifier } from '../pki/csr.js';
import { TrustDomain } from '../pki/names.js';
import { AdminServer } from '../telemetry/admin-server.js';
import { registerBuildInfo } from '../telemetry/build-info.js';
import type { Logger } from '../telemetry/logger.js';
import { createRegistry, type Registry } from '../telemetry/metrics.js';
import { CertificateAuthority } from './certificate-authority.js';
import type { ExtraDnsNames } from './extra-dns-names.js';
import { IdentityServer } from './identity-server.js';
import { IssuerStatusService } from './issuer-status-service.js';
import { IssuerStore } from './issuer-store.js';
import { ReloadableServerCredentials } from '../serving/reloadable-server-credentials.js';
import { ServingCertificate } from './serving-certificate.js';
import type { TokenValidator } from './token-validator.js';

export interface IdentityServiceConfig {
  /** Certify listener. Default 127.0.0.1:8080. */
  host?: string;
  port?: number;
  /** Admin listener. Default 127.0.0.1:9990. */
  adminHost?: string;
  adminPort?: number;
  issuerDir: string;
  /** Default: the issuer directory. */
  trustAnchors?: string;
  /** Default cluster.local. */
  trustDomain?: string;
  /** Default lanyard. */
  controlNamespace?: string;
  validator: TokenValidator;
  /** Default 24h. */
  lifetimeMs?: number;
  /** Default 20s. */
  skewMs?: number;
  /** Issuer poll period. Default 10s. */
  pollIntervalMs?: number;
  /** Fast path for CSR self-signatures (see CertificateAuthorityConfig). Default: node:crypto. */
  csrVerifier?: CsrSignatureVerifier;
  /** Extra DNS names control-plane identities may carry (extra-dns-names.ts). Default none. */
  extraDnsNames?: ExtraDnsNames;
  /** Close connections with no call in flight after this long (GOAWAY; clients reconnect). Default 5m. */
  idleTimeoutMs?: number;
  /** A connection's TLS handshake, and then its HTTP/2 preface, must each finish within this. Default 10s. */
  handshakeTimeoutMs?: number;
  /** A call's request must arrive in full within this of its first byte (else DEADLINE_EXCEEDED). Default 10s. */
  requestTimeoutMs?: number;
  /** Connections held at once; more are dropped. Default 10,000. */
  maxConnections?: number;
  /** Issuer status streams send a heartbeat this often (with the service's clock). Default 30s. */
  statusHeartbeatMs?: number;
  /**
   * Serve `lanyard.identity.v1.IssuerStatus` beside Certify. Default true; false serves
   * Certify alone, as Linkerd's identity controller does (proxies then fall back to a
   * periodic Certify: proxy/identity/issuer-watch.ts).
   */
  issuerStatusStream?: boolean;
  logger: Logger;
  clock?: () => number;
}

/** The service account the identity service's own serving certificate is issued for. */
const SERVING_ACCOUNT = 'lanyard-identity';

export interface RunningIdentityService {
  port: number;
  admin: AddressInfo;
}

export class IdentityService {
  readonly trustDomain: TrustDomain;
  readonly registry: Registry;
  readonly issuers: IssuerStore;
  readonly ca: CertificateAuthority;
  readonly issuerStatus: IssuerStatusService;
  private readonly credentials: ReloadableServerCredentials;
  private readonly serving: ServingCertificate;
  private readonly server: IdentityServer;
  private readonly admin: AdminServer;

  constructor(private readonly cfg: IdentityServiceConfig) {
    this.trustDomain = new TrustDomain(cfg.trustDomain ?? 'cluster.local', cfg.controlNamespace ?? 'lanyard');
    this.registry = createRegistry({ processMetrics: true });
    registerBuildInfo(this.registry, 'identity');
    this.credentials = new ReloadableServerCredentials({ handshakeTimeoutMs: cfg.handshakeTimeoutMs });
    this.issuers = new IssuerStore({
      issuerDir: cfg.issuerDir,
      trustAnchors: cfg.trustAnchors,
      pollIntervalMs: cfg.pollIntervalMs,
      logger: cfg.logger,
      registry: this.registry,
      clock: cfg.clock,
    });
    this.ca = new CertificateAuthority({
      trustDomain: this.trustDomain,
      issuers: this.issuers,
      validator: cfg.validator,
      lifetimeMs: cfg.lifetimeMs,
      skewMs: cfg.skewMs,
      csrVerifier: cfg.csrVerifier,
      extraDnsNames: cfg.extraDnsNames,
      clock: cfg.clock,
    });
    this.serving = new ServingCertificate({
      ca: this.ca,
      issuers: this.issuers,
      credentials: this.credentials,
      account: this.servingAccount,
      logger: cfg.logger,
      clock: cfg.clock,
    });
    this.issuerStatus = new IssuerStatusService({
      issuers: this.issuers,
      logger: cfg.logger,
      registry: this.registry,
      skewMs: cfg.skewMs,
      heartbeatMs: cfg.statusHeartbeatMs,
      maxStreams: cfg.maxConnections,
      clock: cfg.clock,
    });
    this.server = new IdentityServer({
      ca: this.ca,
      credentials: this.credentials,
      issuerStatus: cfg.issuerStatusStream === false ? undefined : this.issuerStatus,
      logger: cfg.logger,
      registry: this.registry,
      idleTimeoutMs: cfg.idleTimeoutMs,
      prefaceTimeoutMs: cfg.handshakeTimeoutMs,
      requestTimeoutMs: cfg.requestTimeoutMs,
      maxConnections: cfg.maxConnections,
    });
    this.admin = new AdminServer({
      host: cfg.adminHost ?? '127.0.0.1',
      port: cfg.adminPort ?? 9990,
      registry: this.registry,
      ready: () => (this.issuers.current() ? { ready: true } : { ready: false, reason: this.issuers.unavailableReason() }),
    });
  }

  /** The service account whose identity the service itself presents. */
  get servingAccount(): { namespace: string; serviceAccount: string } {
    return { namespace: this.trustDomain.controlNamespace, serviceAccount: SERVING_ACCOUNT };
  }

  get servingIdentity(): string {
    return IdentityService.servingIdentityFor(this.cfg);
  }

  /** The identity a service with this configuration presents, without building one. */
  static servingIdentityFor(cfg: Pick<IdentityServiceConfig, 'trustDomain' | 'controlNamespace'>): string {
    const td = new TrustDomain(cfg.trustDomain ?? 'cluster.local', cfg.controlNamespace ?? 'lanyard');
    return td.identity({ namespace: td.controlNamespace, serviceAccount: SERVING_ACCOUNT });
  }

  /** Validator start-up checks run first: a service that cannot verify tokens must not start. */
  async start(): Promise<RunningIdentityService> {
    await this.prepare();
    const admin = await this.admin.start();
    const port = await this.listen();
    return { port, admin };
  }

  /**
   * Starts everything but admin HTTP and returns the Certify port: a cluster worker's share
   * of the service, whose primary serves /ready and the workers' aggregated /metrics.
   */
  async startWithoutAdmin(): Promise<number> {
    await this.prepare();
    return this.listen();
  }

  private async prepare(): Promise<void> {
    await this.cfg.validator.start?.();
    await this.issuers.start();
    await this.serving.start();
    this.issuerStatus.start();
  }

  private listen(): Promise<number> {
    return this.server.listen(this.cfg.host ?? '127.0.0.1', this.cfg.port ?? 8080);
  }

  async stop(): Promise<void> {
    this.issuerStatus.stop();
    this.serving.stop();
    this.issuers.stop();
    await Promise.all([this.server.close(), this.admin.close()]);
    this.cfg.validator.close?.();
  }
}

