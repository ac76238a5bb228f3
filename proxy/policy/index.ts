/**
 * The sidecar's inbound authorization policy: a pure engine (PeerPolicy) and a live-reloading
 * holder for it (PolicyStore).
 */
export { Cidr, findNetwork, formatIp, parseIp, type IpAddress } from './cidr.js';
export { AllowRule, type RuleMatch } from './allow-rule.js';
export { decideDefault } from './default-policy.js';
export { PeerView, type Decision, type Peer } from './peer.js';
export { PeerPolicy, type PolicySummary } from './peer-policy.js';
export {
  DEFAULT_CLUSTER_NETWORKS,
  DEFAULT_POLICY,
  POLICY_NAMES,
  isPolicyName,
  type AllowEntryConfig,
  type DefaultPolicyName,
  type PolicyConfig,
  type PortPolicyConfig,
} from './policy-config.js';
export { POLICY_ENV, applyOverrides, mergePolicies, policyFromEnv, policyOverridesFromEnv, type PolicyOverrides } from './policy-env.js';
export { PolicyError, type PolicyErrorCode } from './policy-error.js';
export { PolicyStore, type PolicyListener, type PolicyStoreConfig } from './policy-store.js';
export { DOCUMENT, parsePolicy, validatePolicy } from './validate-policy.js';
