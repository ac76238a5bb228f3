/**
 * Explicit outbound routes, for running without iptables: which upstream (and which
 * expected server identity) a connection goes to, chosen by the outbound listen address it
 * arrived on, or by its original destination in transparent mode.
 *
 *   routes:
 *     - listen: 127.0.0.1:4140          # a local port the app dials
 *       upstream: 127.0.0.1:4143        # the peer proxy's inbound port
 *       identity: api.default.serviceaccount.identity.lanyard.cluster.local
 *     - listen: 127.0.0.1:4150
 *       upstream: 127.0.0.1:5432
 *       unmeshed: true                  # plain TCP (or refused when unmeshed traffic is denied)
 *     - destination: 10.0.0.7:8080      # transparent mode: matched on the original destination
 *       upstream: 10.0.0.7:8080
 *       identity: api.default.serviceaccount.identity.lanyard.cluster.local
 */
import { yaml } from '../lazy-yaml.js';
import { isDnsName } from '../../src/pki/names.js';
import { formatAddress, parseAddress, type HostPort } from '../../src/util/address.js';
import { quote, ValueError } from '../../src/util/value-error.js';

export type { HostPort };

export interface Route {
  listen: HostPort | null;
  destination: HostPort | null;
  upstream: HostPort;
  /** Expected server identity; null for an unmeshed route. */
  identity: string | null;
  /** Human-readable name used as the audit `rule`. */
  name: string;
}

export class RoutesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RoutesError';
  }
}

const KEYS = new Set(['listen', 'destination', 'upstream', 'identity', 'unmeshed']);

/** Parses YAML or JSON (a list, or `{ routes: [...] }`); `where` names the source in errors. */
export function parseRoutes(text: string, where: string): Route[] {
  let doc: unknown;
  try {
    doc = yaml().parse(text);
  } catch (e) {
    throw new RoutesError(`${where}: not valid YAML or JSON: ${(e as Error).message}`);
  }
  if (doc === null || doc === undefined) return [];
  const list = Array.isArray(doc) ? doc : (doc as { routes?: unknown }).routes;
  if (!Array.isArray(list)) throw new RoutesError(`${where}: expected a list of routes or { routes: [...] }`);
  const routes = list.map((r, i) => parseRoute(r, `${where}: routes[${i}]`));
  const seen = new Set<string>();
  for (const r of routes) {
    // Port 0 asks for any free port, so two such listeners never collide.
    if (r.listen?.port === 0) continue;
    const key = r.listen ? `listen ${fmt(r.listen)}` : `destination ${fmt(r.destination!)}`;
    if (seen.has(key)) throw new RoutesError(`${where}: two routes for ${key}`);
    seen.add(key);
  }
  return routes;
}

function parseRoute(raw: unknown, where: string): Route {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new RoutesError(`${where}: expected an object`);
  const r = raw as Record<string, unknown>;
  for (const k of Object.keys(r)) if (!KEYS.has(k)) throw new RoutesError(`${where}: unknown key "${k}" (expected ${[...KEYS].join(', ')})`);
  const listen = r.listen === undefined ? null : hostPort(r.listen, `${where}.listen`, true);
  const destination = r.destination === undefined ? null : hostPort(r.destination, `${where}.destination`);
  if (!listen === !destination) throw new RoutesError(`${where}: exactly one of "listen" or "destination" is required`);
  if (r.upstream === undefined) throw new RoutesError(`${where}.upstream: required`);
  const upstream = hostPort(r.upstream, `${where}.upstream`);
  const unmeshed = r.unmeshed === true;
  if (r.unmeshed !== undefined && typeof r.unmeshed !== 'boolean') throw new RoutesError(`${where}.unmeshed: expected true or false`);
  if (unmeshed && r.identity !== undefined) throw new RoutesError(`${where}: an unmeshed route has no identity`);
  if (!unmeshed && (typeof r.identity !== 'string' || !isDnsName(r.identity))) {
    throw new RoutesError(`${where}.identity: expected the upstream's workload identity (a DNS name), or "unmeshed: true"`);
  }
  const identity = unmeshed ? null : (r.identity as string);
  const name = `route:${listen ? fmt(listen) : `dst=${fmt(destination!)}`}`;
  return { listen, destination, upstream, identity, name };
}

/**
 * An address field, in src/util's grammar: `listen` fields may use port 0 (any free port)
 * and `:port`; others need a host and a real port. A bare number is a port on 127.0.0.1.
 */
export function hostPort(v: unknown, where: string, listen = false): HostPort {
  const text = typeof v === 'number' && Number.isInteger(v) ? `127.0.0.1:${v}` : v;
  if (typeof text !== 'string') throw new RoutesError(`${where}: expected an address host:port, got ${v === undefined ? 'nothing' : quote(JSON.stringify(v))}`);
  try {
    return parseAddress(text, listen ? 'listen' : 'dial');
  } catch (e) {
    if (e instanceof ValueError) throw new RoutesError(`${where}: ${e.message}`);
    throw e;
  }
}

export const fmt = (hp: HostPort): string => formatAddress(hp);
