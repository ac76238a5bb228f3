/**
 * What the policy knows about an inbound peer, and what it answers.
 */
import { findNetwork, parseIp, type Cidr, type IpAddress } from './cidr.js';

/** The peer of an inbound connection, after protocol detection and TLS termination. */
export interface Peer {
  /** TLS was terminated by this proxy (false for plaintext and passed-through TLS). */
  tls: boolean;
  /** Verified DNS identity from the client certificate's SAN, null if none. */
  identity: string | null;
  /** Verified SPIFFE URI SAN, null if none. */
  spiffeId: string | null;
  /** Source IP: IPv4, IPv6, or IPv4-mapped IPv6 (`::ffff:10.0.0.1`); a `%zone` is ignored. */
  address: string;
}

export interface Decision {
  allow: boolean;
  /** True when decided by a dry-run rule (the `audit` policy, or a port with `audit: true`): allowed whatever the rule says. */
  audit: boolean;
  /**
   * Set with `audit`: the enforcing rule would have refused the peer (`rule` and `reason`
   * are then that rule's). The `audit` policy is judged as `all-authenticated` would judge.
   */
  wouldDeny?: boolean;
  /** The rule that decided, stable and human readable: `default:deny`, `port:8080/allow[1] identity *.prod...`, `port:8080/no-match`. */
  rule: string;
  /** Why, in words, naming the peer's identity or address and what it matched. */
  reason: string;
}

/**
 * A peer as the rules see it. An identity counts only when TLS was terminated here: a
 * caller passing an identity for a plaintext peer is a bug, and must not grant access.
 */
export class PeerView {
  readonly authenticated: boolean;
  /** Lower-cased (DNS names are case-insensitive; policy names are validated lower-case). */
  readonly identity: string | null;
  readonly spiffeId: string | null;
  private parsed: IpAddress | null | undefined;

  constructor(readonly peer: Peer) {
    this.identity = peer.tls && peer.identity ? peer.identity.toLowerCase() : null;
    this.spiffeId = peer.tls && peer.spiffeId ? peer.spiffeId : null;
    this.authenticated = this.identity !== null || this.spiffeId !== null;
  }

  /** The source address, parsed on first use: most decisions never need it. */
  get ip(): IpAddress | null {
    if (this.parsed === undefined) this.parsed = parseIp(this.peer.address, { allowZone: true });
    return this.parsed;
  }

  /** The identity to name in reasons: the DNS identity, else the SPIFFE ID. */
  get name(): string | null {
    return this.identity ?? this.spiffeId;
  }

  network(cidrs: readonly Cidr[]): Cidr | undefined {
    return findNetwork(cidrs, this.ip);
  }

  /** Why the address is in none of `what` (e.g. "the cluster networks"). */
  outside(what: string): string {
    return this.ip ? `address ${this.peer.address} is not in ${what}` : `address ${JSON.stringify(this.peer.address)} is not an IP address`;
  }

  describe(): string {
    const who = this.authenticated ? `peer ${this.name}` : 'unauthenticated peer';
    return `${who} from ${this.peer.address}`;
  }
}
