/**
 * Policy from the environment, layered over the policy file. Later layers win:
 *
 *   1. the policy file (LANYARD_PROXY_POLICY_FILE, read by PolicyStore)
 *   2. LANYARD_PROXY_POLICY: inline YAML/JSON of the file's schema
 *   3. LANYARD_PROXY_DEFAULT_POLICY and LANYARD_PROXY_CLUSTER_NETWORKS
 *
 * Within a layer, `default` and `clusterNetworks` replace the lower layer's when set, and
 * `ports` merge by port: a port in a later layer replaces that port's whole rule, so a
 * port's allow list never mixes entries from two sources. An empty variable is unset.
 */
import { proxySource } from '../config.js';
import { PeerPolicy } from './peer-policy.js';
import { PolicyError } from './policy-error.js';
import type { DefaultPolicyName, PolicyConfig } from './policy-config.js';
import { checkCidr, parsePolicy, policyName } from './validate-policy.js';

export const POLICY_ENV = {
  /** Path of the policy file (for the proxy's wiring; PolicyStoreConfig.file). */
  file: 'LANYARD_PROXY_POLICY_FILE',
  /** A whole policy document, inline. */
  inline: 'LANYARD_PROXY_POLICY',
  /** A DefaultPolicyName. */
  defaultPolicy: 'LANYARD_PROXY_DEFAULT_POLICY',
  /** Comma-separated CIDRs. */
  clusterNetworks: 'LANYARD_PROXY_CLUSTER_NETWORKS',
} as const;

/** The environment's layers, validated; applied over every (re)load of the file. */
export interface PolicyOverrides {
  inline?: PolicyConfig;
  default?: DefaultPolicyName;
  clusterNetworks?: string[];
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v ? v : undefined;
}

/** Runs a check of one variable; its PolicyError is attributed to the variable and its flag. */
function fromVariable<T>(name: string, check: () => T): T {
  try {
    return check();
  } catch (e) {
    throw e instanceof PolicyError ? e.from(proxySource(name)) : e;
  }
}

/** Errors name the variable and its flag: `--cluster-networks (env LANYARD_PROXY_CLUSTER_NETWORKS): [1]: "x" is not a CIDR`. */
export function policyOverridesFromEnv(env: Env): PolicyOverrides {
  const out: PolicyOverrides = {};
  const inline = read(env, POLICY_ENV.inline);
  if (inline !== undefined) out.inline = fromVariable(POLICY_ENV.inline, () => parsePolicy(inline));
  const name = read(env, POLICY_ENV.defaultPolicy);
  if (name !== undefined) out.default = fromVariable(POLICY_ENV.defaultPolicy, () => policyName(name, ''));
  const networks = read(env, POLICY_ENV.clusterNetworks);
  if (networks !== undefined) {
    // Blank items are dropped so a trailing comma is harmless.
    const list = networks.split(',').map((s) => s.trim());
    fromVariable(POLICY_ENV.clusterNetworks, () => list.forEach((n, i) => n && checkCidr(n, `[${i}]`)));
    out.clusterNetworks = list.filter(Boolean);
    if (out.clusterNetworks.length === 0) throw new PolicyError('ERR_POLICY_INVALID', '', 'lists no CIDR', proxySource(POLICY_ENV.clusterNetworks));
  }
  return out;
}

/** Layers documents, later winning (see the file comment). */
export function mergePolicies(...layers: PolicyConfig[]): PolicyConfig {
  const out: PolicyConfig = {};
  for (const layer of layers) {
    if (layer.default !== undefined) out.default = layer.default;
    if (layer.clusterNetworks !== undefined) out.clusterNetworks = [...layer.clusterNetworks];
    if (layer.ports !== undefined) out.ports = { ...out.ports, ...layer.ports };
  }
  return out;
}

export function applyOverrides(file: PolicyConfig | undefined, o: PolicyOverrides): PolicyConfig {
  return mergePolicies(file ?? {}, o.inline ?? {}, { default: o.default, clusterNetworks: o.clusterNetworks });
}

/**
 * The policy the environment describes, over an already parsed file if there is one.
 * @throws PolicyError naming the variable (or the path inside LANYARD_PROXY_POLICY)
 */
export function policyFromEnv(env: Env, file?: PolicyConfig): PeerPolicy {
  return new PeerPolicy(applyOverrides(file, policyOverridesFromEnv(env)));
}
