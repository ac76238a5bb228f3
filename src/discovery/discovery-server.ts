/**
 * The Discovery gRPC service: Resolve answers once, Watch streams the answer for an address
 * now and each time it changes (endpoint-watches.ts: driven by the source's changes, never
 * by a timer). Until the source has its first complete view, Resolve is UNAVAILABLE (a proxy
 * must not take "no entry" for "unmeshed" from a discovery service that has not loaded yet)
 * and Watch waits.
 */
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { discoveryServiceDefinition } from '../proto/index.js';
import type { ReloadableServerCredentials } from '../serving/reloadable-server-credentials.js';
import type { Logger } from '../telemetry/logger.js';
import { Counter, Gauge, type Registry } from '../telemetry/metrics.js';
import { unmeshed, type Endpoint, type EndpointSource } from './endpoint.js';
import { EndpointWatches } from './endpoint-watches.js';
import type { EndpointMessage, ResolveRequestMessage } from '../proto/discovery-codec.js';

export interface DiscoveryServerConfig {
  source: EndpointSource;
  logger: Logger;
  registry: Registry;
  /**
   * Serve TLS with these credentials, whose certificate may be replaced while the server runs
   * (new connections get the new one); default plaintext.
   */
  credentials?: ReloadableServerCredentials;
}

export class DiscoveryServer {
  private readonly server = new grpc.Server({ 'grpc.max_receive_message_length': 4096 });
  private readonly requests: Counter<'method' | 'result'>;
  private readonly watches: Gauge;
  private readonly streams = new Set<grpc.ServerWritableStream<ResolveRequestMessage, EndpointMessage>>();
  private readonly watchers: EndpointWatches;

  constructor(private readonly cfg: DiscoveryServerConfig) {
    this.requests = new Counter({ name: 'lanyard_discovery_requests_total', help: 'Discovery calls, by method and result (ok, refused: bad request, error: source not synced).', labelNames: ['method', 'result'], registers: [cfg.registry] });
    const watchers = (this.watchers = new EndpointWatches(cfg.source, (req) => this.answer(req)));
    this.watches = new Gauge({
      name: 'lanyard_discovery_watches_active',
      help: 'Open Watch streams.',
      registers: [cfg.registry],
      collect() {
        this.set(watchers.size);
      },
    });
    this.server.addService(discoveryServiceDefinition().service, {
      Resolve: this.resolve.bind(this),
      Watch: this.watch.bind(this),
    });
  }

  async listen(host: string, port: number): Promise<number> {
    const creds = this.cfg.credentials ?? grpc.ServerCredentials.createInsecure();
    const target = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return new Promise((resolve, reject) => this.server.bindAsync(target, creds, (err, bound) => (err ? reject(new Error(`cannot listen on ${target}: ${err.message}`)) : resolve(bound))));
  }

  async close(): Promise<void> {
    this.watchers.close();
    for (const s of this.streams) s.end();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => (this.server.forceShutdown(), resolve()), 2000);
      this.server.tryShutdown(() => (clearTimeout(t), resolve()));
    });
  }

  private check(req: ResolveRequestMessage): string | null {
    if (!isIP(req.address)) return `address: ${JSON.stringify(req.address)} is not an IP address`;
    if (!Number.isInteger(req.port) || req.port < 0 || req.port > 65535) return `port: ${req.port} is not a port`;
    return null;
  }

  private answer(req: ResolveRequestMessage): EndpointMessage {
    const e: Endpoint = this.cfg.source.lookup(req.address, req.port) ?? unmeshed(req.address, req.port);
    return { address: e.address, port: e.port, meshed: e.meshed, identity: e.identity, spiffe_id: e.spiffeId, source: e.source, workload: e.workload };
  }

  private resolve(call: grpc.ServerUnaryCall<ResolveRequestMessage, EndpointMessage>, cb: grpc.sendUnaryData<EndpointMessage>): void {
    const bad = this.check(call.request);
    if (bad) {
      this.requests.inc({ method: 'Resolve', result: 'refused' });
      return cb({ code: grpc.status.INVALID_ARGUMENT, details: bad });
    }
    if (!this.cfg.source.ready()) {
      this.requests.inc({ method: 'Resolve', result: 'error' });
      return cb({ code: grpc.status.UNAVAILABLE, details: `the ${this.cfg.source.kind} source has not synced yet` });
    }
    this.requests.inc({ method: 'Resolve', result: 'ok' });
    cb(null, this.answer(call.request));
  }

  private watch(call: grpc.ServerWritableStream<ResolveRequestMessage, EndpointMessage>): void {
    const bad = this.check(call.request);
    if (bad) {
      this.requests.inc({ method: 'Watch', result: 'refused' });
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: bad });
      return;
    }
    this.requests.inc({ method: 'Watch', result: 'ok' });
    this.streams.add(call);
    const remove = this.watchers.add(call.request, call);
    const done = () => {
      remove();
      this.streams.delete(call);
    };
    call.on('cancelled', done);
    call.on('close', done);
    call.on('error', done);
  }
}
