/**
 * The inbound authorization policy: who may connect to which port. Pure and immutable:
 * `authorize` does no I/O and allocates little, since it runs on every connection; a new
 * policy is a new PeerPolicy, swapped in whole by the PolicyStore.
 */
import { Cidr } from './cidr.js';
import { AllowRule } from './allow-rule.js';
import { decideDefault } from './default-policy.js';
import { PeerView, type Decision, type Peer } from './peer.js';
import { DEFAULT_CLUSTER_NETWORKS, DEFAULT_POLICY, type DefaultPolicyName, type PolicyConfig } from './policy-config.js';
import { validatePolicy } from './validate-policy.js';

type PortRule = ({ kind: 'default'; name: DefaultPolicyName } | { kind: 'allow'; rules: AllowRule[] }) & { audit: boolean };

/** A short, loggable picture of a policy. */
export interface PolicySummary {
  default: DefaultPolicyName;
  clusterNetworks: string[];
  /** Port → its default policy name, or `allow[n]` for n allow entries; ` audit` appended for a dry-run port. */
  ports: Record<string, string>;
}

export class PeerPolicy {
  /** The validated, normalized configuration this policy was built from. */
  readonly config: PolicyConfig;
  readonly defaultPolicy: DefaultPolicyName;
  readonly clusterNetworks: readonly Cidr[];
  private readonly ports = new Map<number, PortRule>();

  /** @throws PolicyError if `config` is not valid (see validatePolicy) */
  constructor(config: PolicyConfig = {}) {
    this.config = validatePolicy(config);
    this.defaultPolicy = this.config.default ?? DEFAULT_POLICY;
    this.clusterNetworks = (this.config.clusterNetworks ?? DEFAULT_CLUSTER_NETWORKS).map((n) => Cidr.parse(n) as Cidr);
    for (const [port, p] of Object.entries(this.config.ports ?? {})) {
      const audit = p.audit === true;
      this.ports.set(
        Number(port),
        p.default
          ? { kind: 'default', name: p.default, audit }
          : { kind: 'allow', rules: p.allow!.map((e, i) => new AllowRule(`port:${port}/allow[${i}]`, e)), audit },
      );
    }
  }

  /**
   * Decides whether `peer` may connect to `port` (the original destination port). A port
   * with allow entries admits a peer if any entry matches (the first match names the
   * decision) and denies otherwise; a port without an entry follows the default policy.
   * A port with `audit: true` is judged the same way, then never refuses (see dryRun).
   */
  authorize(peer: Peer, port: number): Decision {
    const view = new PeerView(peer);
    const p = this.ports.get(port);
    if (!p) return decideDefault(this.defaultPolicy, `default:${this.defaultPolicy}`, view, this.clusterNetworks);
    const d = p.kind === 'default' ? decideDefault(p.name, `port:${port}/default:${p.name}`, view, this.clusterNetworks) : this.firstMatch(p.rules, port, view);
    return p.audit ? dryRun(d) : d;
  }

  private firstMatch(rules: AllowRule[], port: number, view: PeerView): Decision {
    for (const rule of rules) {
      const m = rule.match(view);
      if (m) return { allow: true, audit: false, rule: m.rule, reason: m.reason };
    }
    return { allow: false, audit: false, rule: `port:${port}/no-match`, reason: `no allow entry of port ${port} matched ${view.describe()}` };
  }

  summary(): PolicySummary {
    const ports: Record<string, string> = {};
    for (const [port, p] of this.ports) ports[port] = (p.kind === 'default' ? p.name : `allow[${p.rules.length}]`) + (p.audit ? ' audit' : '');
    return { default: this.defaultPolicy, clusterNetworks: this.clusterNetworks.map(String), ports };
  }
}

/**
 * A dry-run port's verdict: what its rule decided, allowed. A refusal keeps the rule and the
 * reason that would have refused, flagged `wouldDeny`, so the audit says exactly what
 * enforcing the rule would change.
 */
function dryRun(d: Decision): Decision {
  if (d.audit) return d; // `default: audit` on the port already judged it as a dry run
  if (d.allow) return { ...d, audit: true, wouldDeny: false };
  return { allow: true, audit: true, wouldDeny: true, rule: d.rule, reason: `${d.reason} (audit: allowed, enforcing would refuse)` };
}
