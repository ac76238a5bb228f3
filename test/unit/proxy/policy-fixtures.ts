/**
 * Peers for the policy tables.
 */
import type { Peer } from '../../../proxy/policy/peer.js';

export const id = (sa: string, ns: string): string => `${sa}.${ns}.serviceaccount.identity.lanyard.cluster.local`;
export const spiffe = (sa: string, ns: string): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;

/** An mTLS peer with both SANs, as Lanyard's leaves carry. */
export function meshed(sa: string, ns: string, address: string): Peer {
  return { tls: true, identity: id(sa, ns), spiffeId: spiffe(sa, ns), address };
}

/** A plaintext peer. */
export function plain(address: string): Peer {
  return { tls: false, identity: null, spiffeId: null, address };
}

/** An mTLS peer whose certificate carries only a SPIFFE ID (a SPIRE-issued SVID). */
export function spiffeOnly(id: string, address: string): Peer {
  return { tls: true, identity: null, spiffeId: id, address };
}
