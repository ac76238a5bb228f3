/**
 * Transparent outbound: from a redirected connection's original destination to the
 * upstream to dial. Explicit `destination:` routes win; otherwise discovery says whether
 * the destination is meshed and which identity its proxy must present. A connection that
 * was not redirected, that points back at this proxy, or that discovery cannot answer for,
 * is refused — never sent in plaintext where mutual TLS may have been expected.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../../src/telemetry/logger.js';
import { DiscoveryUnavailableError, type DiscoveryClient } from '../discovery/discovery-client.js';
import type { OriginalDestination } from '../native/index.js';
import { fmt, type HostPort, type Route } from './routes.js';
import type { Upstream } from './outbound-proxy.js';

export interface TransparentResolverConfig {
  /** Reads SO_ORIGINAL_DST; null when the socket was not redirected. */
  originalDst: (client: Socket) => OriginalDestination | null;
  discovery: Pick<DiscoveryClient, 'resolve'>;
  /** Routes with a `destination`. */
  routes: Route[];
  /** This proxy's own listeners: a destination among them is a loop. */
  ownPorts: () => number[];
  logger: Logger;
}

export class TransparentResolver {
  private readonly byDestination = new Map<string, Route>();

  constructor(private readonly cfg: TransparentResolverConfig) {
    for (const r of cfg.routes) if (r.destination) this.byDestination.set(fmt(r.destination), r);
  }

  async upstreamFor(client: Socket): Promise<Upstream> {
    const none = { host: client.localAddress ?? '0.0.0.0', port: client.localPort ?? 0 };
    let dst: OriginalDestination | null;
    try {
      dst = this.cfg.originalDst(client);
    } catch (e) {
      return { address: none, identity: null, rule: 'transparent', refusal: `cannot read the original destination: ${(e as Error).message}` };
    }
    if (!dst) {
      this.cfg.logger.warn({ event: 'not_redirected', src: `${client.remoteAddress}:${client.remotePort}`, port: client.localPort }, 'connection to the outbound port was not redirected by iptables; refused');
      return { address: none, identity: null, rule: 'transparent', refusal: 'no original destination: the connection was not redirected by iptables (refused rather than looped back into the proxy)' };
    }
    const address: HostPort = { host: dst.address, port: dst.port };
    if (isLoopback(dst.address) && this.cfg.ownPorts().includes(dst.port)) {
      return { address, identity: null, rule: 'transparent', refusal: `original destination ${fmt(address)} is this proxy: redirect loop refused` };
    }
    const route = this.byDestination.get(fmt(address));
    if (route) return { address: route.upstream, identity: route.identity, rule: route.name };
    try {
      const e = await this.cfg.discovery.resolve(dst.address, dst.port);
      return e.meshed && e.identity
        ? { address, identity: e.identity, rule: 'discovery', note: `discovery: ${e.source}${e.workload ? ` ${e.workload}` : ''}` }
        : { address, identity: null, rule: 'discovery', note: `discovery: not meshed (${e.source})` };
    } catch (e) {
      const why = e instanceof DiscoveryUnavailableError ? e.message : (e as Error).message;
      return { address, identity: null, rule: 'discovery', refusal: `discovery unavailable, failing closed: ${why}` };
    }
  }
}

function isLoopback(a: string): boolean {
  return a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.');
}
