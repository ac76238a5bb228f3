/**
 * One compiled allow entry of a port. Matching is a few set lookups and string compares
 * per entry; CIDRs are parsed once here, never per connection.
 */
import { Cidr } from './cidr.js';
import type { AllowEntryConfig } from './policy-config.js';
import type { PeerView } from './peer.js';

export interface RuleMatch {
  /** e.g. `port:8080/allow[1] identity *.prod.serviceaccount.identity.lanyard.cluster.local` */
  rule: string;
  reason: string;
}

interface Part {
  label: string;
  reason: string;
}

const byLengthDesc = (a: string, b: string) => b.length - a.length;

export class AllowRule {
  private readonly exactIdentities = new Set<string>();
  /** `.suffix` strings, longest first so the most specific pattern names the decision. */
  private readonly identitySuffixes: string[] = [];
  private readonly anyIdentity: boolean;
  private readonly exactSpiffe = new Set<string>();
  /** `spiffe://td/path/` prefixes (from `.../path/*`), longest first. */
  private readonly spiffePrefixes: string[] = [];
  private readonly hasIdentityCondition: boolean;
  private readonly networks: Cidr[] | null;
  private readonly unauthenticated: boolean;

  /**
   * @param name the entry's name in rule strings, e.g. `port:8080/allow[1]`
   * @param entry a validated entry (see validatePolicy)
   */
  constructor(
    readonly name: string,
    entry: AllowEntryConfig,
  ) {
    for (const id of entry.identities ?? []) {
      if (id === '*') continue;
      if (id.startsWith('*.')) this.identitySuffixes.push(id.slice(1));
      else this.exactIdentities.add(id);
    }
    this.identitySuffixes.sort(byLengthDesc);
    this.anyIdentity = entry.identities?.includes('*') ?? false;
    for (const id of entry.spiffeIds ?? []) {
      if (id.endsWith('/*')) this.spiffePrefixes.push(id.slice(0, -1));
      else this.exactSpiffe.add(id);
    }
    this.spiffePrefixes.sort(byLengthDesc);
    this.hasIdentityCondition = entry.identities !== undefined || entry.spiffeIds !== undefined;
    this.networks = entry.networks ? entry.networks.map((n) => Cidr.parse(n) as Cidr) : null;
    this.unauthenticated = entry.unauthenticated === true;
  }

  match(peer: PeerView): RuleMatch | null {
    if (this.unauthenticated) return { rule: `${this.name} unauthenticated`, reason: 'the entry admits unauthenticated peers' };
    const parts: Part[] = [];
    if (this.hasIdentityCondition) {
      const id = this.matchIdentity(peer);
      if (!id) return null;
      parts.push(id);
    }
    if (this.networks) {
      const net = peer.network(this.networks);
      if (!net) return null;
      parts.push({ label: `network ${net}`, reason: `address ${peer.peer.address} is in ${net}` });
    }
    return { rule: `${this.name} ${parts.map((p) => p.label).join(' ')}`, reason: parts.map((p) => p.reason).join(' and ') };
  }

  /** Most specific first: exact, then `*.suffix` / SPIFFE prefix, then `*`. */
  private matchIdentity(peer: PeerView): Part | null {
    if (!peer.authenticated) return null;
    const { identity, spiffeId } = peer;
    const matched = (kind: 'identity' | 'spiffeId', value: string, pattern: string): Part => ({
      label: `${kind} ${pattern}`,
      reason: `${kind === 'identity' ? 'identity' : 'SPIFFE ID'} ${value} matched ${pattern}`,
    });
    if (identity !== null) {
      if (this.exactIdentities.has(identity)) return matched('identity', identity, identity);
    }
    if (spiffeId !== null && this.exactSpiffe.has(spiffeId)) return matched('spiffeId', spiffeId, spiffeId);
    if (identity !== null) {
      for (const s of this.identitySuffixes) if (identity.endsWith(s)) return matched('identity', identity, `*${s}`);
    }
    if (spiffeId !== null) {
      for (const p of this.spiffePrefixes) if (spiffeId.startsWith(p) && spiffeId.length > p.length) return matched('spiffeId', spiffeId, `${p}*`);
    }
    if (this.anyIdentity) return matched('identity', peer.name!, '*');
    return null;
  }
}
