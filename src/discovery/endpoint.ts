/**
 * What discovery answers for an address, and the interface every source implements.
 */

export interface Endpoint {
  address: string;
  port: number;
  meshed: boolean;
  identity: string;
  spiffeId: string;
  source: 'static' | 'kubernetes' | 'none';
  workload: string;
}

/**
 * What changed in a source: the addresses whose answer may have changed, or `all` when any
 * answer may have (the source has just loaded its first complete view).
 */
export type EndpointChange = ReadonlySet<string> | 'all';

/**
 * A source of endpoints. `lookup` is synchronous (sources keep their data in memory);
 * `onChange` is called on every change, which is what drives the discovery Watch streams
 * (nothing polls a source).
 */
export interface EndpointSource {
  readonly kind: 'static' | 'kubernetes';
  start(): Promise<void>;
  stop(): Promise<void> | void;
  /** True once the source has loaded its first complete view. */
  ready(): boolean;
  lookup(address: string, port: number): Endpoint | null;
  onChange(listener: (change: EndpointChange) => void): () => void;
}

export function unmeshed(address: string, port: number): Endpoint {
  return { address, port, meshed: false, identity: '', spiffeId: '', source: 'none', workload: '' };
}

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`) and plain IPv4 name the same pod. */
export function normalizeAddress(address: string): string {
  const a = address.trim().toLowerCase();
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}
