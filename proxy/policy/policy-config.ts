/**
 * The policy document's schema (file, `LANYARD_PROXY_POLICY`), as plain data.
 *
 *   default: all-authenticated              # a DefaultPolicyName
 *   clusterNetworks: [10.0.0.0/8, fd00::/8]
 *   ports:
 *     "8080":
 *       allow:                              # any matching entry grants access
 *         - identities: [web.default.serviceaccount.identity.lanyard.cluster.local, "*.prod.serviceaccount.identity.lanyard.cluster.local"]
 *         - spiffeIds: [spiffe://cluster.local/ns/ops/sa/prober, spiffe://cluster.local/ns/prod/*]
 *         - networks: [192.168.10.0/24]
 *         - identities: ["*"]
 *           networks: [10.1.0.0/16]         # both must match: any authenticated peer from 10.1/16
 *         - unauthenticated: true
 *     "9090":
 *       default: all-unauthenticated
 *     "9091":
 *       allow: [{identities: ["*"]}]
 *       audit: true                         # dry run: would-be refusals are allowed and flagged
 */

/** Linkerd's default policies. */
export const POLICY_NAMES = [
  'all-unauthenticated',
  'all-authenticated',
  'cluster-authenticated',
  'cluster-unauthenticated',
  'deny',
  'audit',
] as const;

export type DefaultPolicyName = (typeof POLICY_NAMES)[number];

export function isPolicyName(s: unknown): s is DefaultPolicyName {
  return typeof s === 'string' && (POLICY_NAMES as readonly string[]).includes(s);
}

/** Linkerd's default cluster networks: the private, CGNAT and ULA ranges. */
export const DEFAULT_CLUSTER_NETWORKS: readonly string[] = ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8'];

/**
 * Linkerd's default: a freshly meshed workload keeps accepting what it accepted before.
 * Production policies set `deny` with per-port allows.
 */
export const DEFAULT_POLICY: DefaultPolicyName = 'all-unauthenticated';

/**
 * One allow entry. At least one field must be set. `identities` and `spiffeIds` together are
 * the entry's identity condition (either list may match); `networks` is its network
 * condition; when both conditions are present, both must hold.
 */
export interface AllowEntryConfig {
  /** Exact identities, `*.suffix` (any identity ending in `.suffix`), or `*` (any authenticated peer). */
  identities?: string[];
  /** Exact SPIFFE IDs, or a prefix ending in `/*` (`spiffe://cluster.local/ns/prod/*`). */
  spiffeIds?: string[];
  /** CIDRs the peer's address must be in; authenticated or not unless an identity condition is set. */
  networks?: string[];
  /** `true` admits anyone; cannot be combined with other fields. `false` is the same as absent. */
  unauthenticated?: boolean;
}

/** A port either names a default policy or lists allow entries, never both. */
export interface PortPolicyConfig {
  default?: DefaultPolicyName;
  /** Ordered; the first matching entry names the decision; no match denies. */
  allow?: AllowEntryConfig[];
  /**
   * Dry run: the port's rule is judged as usual but never refuses; a peer it would refuse is
   * allowed and flagged (`would_deny`). Default false.
   */
  audit?: boolean;
}

export interface PolicyConfig {
  /** Policy for ports without their own entry. Default `all-unauthenticated` (DEFAULT_POLICY). */
  default?: DefaultPolicyName;
  /** CIDRs for the `cluster-*` policies. Default DEFAULT_CLUSTER_NETWORKS. */
  clusterNetworks?: string[];
  /** Keyed by port number in decimal (`"8080"`). Default: none. */
  ports?: Record<string, PortPolicyConfig>;
}
