/**
 * Linkerd's default policies, as one pure function per decision.
 */
import type { Cidr } from './cidr.js';
import type { DefaultPolicyName } from './policy-config.js';
import type { Decision, PeerView } from './peer.js';

const CLUSTER = 'the cluster networks';

/**
 * Decides by a named default policy. `rule` is the name reported (`default:deny`,
 * `port:9090/default:all-unauthenticated`).
 */
export function decideDefault(name: DefaultPolicyName, rule: string, peer: PeerView, clusterNetworks: readonly Cidr[]): Decision {
  const allow = (reason: string, audit = false): Decision => ({ allow: true, audit, rule, reason });
  const deny = (reason: string): Decision => ({ allow: false, audit: false, rule, reason });
  switch (name) {
    case 'all-unauthenticated':
      return allow('all-unauthenticated allows every peer');
    case 'all-authenticated':
      return peer.authenticated ? allow(`peer is authenticated as ${peer.name}`) : deny('peer is not authenticated');
    case 'cluster-authenticated': {
      if (!peer.authenticated) return deny('peer is not authenticated');
      const net = peer.network(clusterNetworks);
      if (!net) return deny(peer.outside(CLUSTER));
      return allow(`peer is authenticated as ${peer.name} and address ${peer.peer.address} is in cluster network ${net}`);
    }
    case 'cluster-unauthenticated': {
      const net = peer.network(clusterNetworks);
      return net ? allow(`address ${peer.peer.address} is in cluster network ${net}`) : deny(peer.outside(CLUSTER));
    }
    case 'deny':
      return deny('deny refuses every peer');
    case 'audit': {
      // Allowed so nothing breaks while a policy is rolled out; what all-authenticated (the
      // usual next step) would refuse is flagged, so `lanyard edges --would-deny` shows
      // whether the switch is safe.
      const strict = decideDefault('all-authenticated', rule, peer, clusterNetworks);
      const verdict = strict.allow ? 'would allow' : 'would refuse';
      return { allow: true, audit: true, wouldDeny: !strict.allow, rule, reason: `audit allows every peer; all-authenticated ${verdict} it: ${strict.reason} (${peer.describe()})` };
    }
  }
}
