/**
 * An EndpointSource held in memory for discovery tests: set or remove an address's identity
 * and it emits the change, as the static and Kubernetes sources do; `sync()` makes it ready
 * and emits `all`. It counts lookups, so a test can see how much work the server did.
 */
import { normalizeAddress, type Endpoint, type EndpointChange, type EndpointSource } from '../../src/discovery/endpoint.js';

export class MemoryEndpointSource implements EndpointSource {
  readonly kind = 'static';
  lookups = 0;
  private synced = false;
  private readonly identities = new Map<string, string>();
  private readonly listeners = new Set<(change: EndpointChange) => void>();

  async start(): Promise<void> {}
  stop(): void {}

  ready(): boolean {
    return this.synced;
  }

  sync(): void {
    this.synced = true;
    this.emit('all');
  }

  set(address: string, identity: string | null): void {
    if (identity === null) this.identities.delete(address);
    else this.identities.set(address, identity);
    this.emit(new Set([address]));
  }

  lookup(address: string, port: number): Endpoint | null {
    this.lookups++;
    const identity = this.identities.get(normalizeAddress(address));
    return identity ? { address, port, meshed: true, identity, spiffeId: '', source: 'static', workload: '' } : null;
  }

  onChange(listener: (change: EndpointChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: EndpointChange): void {
    for (const l of this.listeners) l(change);
  }
}
