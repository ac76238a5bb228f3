/**
 * The discovery service assembled: an endpoint source, the gRPC server and admin HTTP.
 * /ready needs the source synced and whatever else the caller adds (a valid serving
 * certificate when it serves TLS).
 */
import type { AddressInfo } from 'node:net';
import type { ReloadableServerCredentials } from '../serving/reloadable-server-credentials.js';
import { AdminServer, type ReadyState } from '../telemetry/admin-server.js';
import type { Logger } from '../telemetry/logger.js';
import { registerBuildInfo } from '../telemetry/build-info.js';
import { createRegistry, type Registry } from '../telemetry/metrics.js';
import { DiscoveryServer } from './discovery-server.js';
import type { EndpointSource } from './endpoint.js';

export interface DiscoveryServiceConfig {
  source: EndpointSource;
  /** Default 127.0.0.1:8086. */
  host?: string;
  port?: number;
  /** Default 127.0.0.1:9996. */
  adminHost?: string;
  adminPort?: number;
  /** TLS (see DiscoveryServer); default plaintext. */
  credentials?: ReloadableServerCredentials;
  /** Another condition of /ready, e.g. holding a serving certificate that has not expired. */
  ready?: () => ReadyState;
  logger: Logger;
}

export class DiscoveryService {
  readonly registry: Registry = createRegistry({ processMetrics: true });
  private readonly server: DiscoveryServer;
  private readonly admin: AdminServer;

  constructor(private readonly cfg: DiscoveryServiceConfig) {
    registerBuildInfo(this.registry, 'discovery');
    this.server = new DiscoveryServer({ source: cfg.source, logger: cfg.logger, registry: this.registry, credentials: cfg.credentials });
    this.admin = new AdminServer({
      host: cfg.adminHost ?? '127.0.0.1',
      port: cfg.adminPort ?? 9996,
      registry: this.registry,
      ready: () => (!cfg.source.ready() ? { ready: false, reason: `${cfg.source.kind} source not synced` } : (cfg.ready?.() ?? { ready: true })),
    });
  }

  /** Starts serving at once; the source syncs in the background (Resolve is UNAVAILABLE until then). */
  async start(): Promise<{ port: number; admin: AddressInfo; synced: Promise<void> }> {
    const synced = this.cfg.source.start();
    synced.catch((e: Error) => this.cfg.logger.error({ reason: e.message }, 'endpoint source failed to start'));
    const admin = await this.admin.start();
    const port = await this.server.listen(this.cfg.host ?? '127.0.0.1', this.cfg.port ?? 8086);
    return { port, admin, synced };
  }

  async stop(): Promise<void> {
    await Promise.all([this.server.close(), this.admin.close(), this.cfg.source.stop()]);
  }
}
