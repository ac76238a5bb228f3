/**
 * Linkerd's default policies against authenticated and unauthenticated peers, inside and
 * outside the cluster networks, over IPv4, IPv6 and IPv4-mapped IPv6.
 */
import { PeerPolicy } from '../../../proxy/policy/peer-policy.js';
import { POLICY_NAMES, type DefaultPolicyName } from '../../../proxy/policy/policy-config.js';
import type { Peer } from '../../../proxy/policy/peer.js';
import { meshed, plain, spiffeOnly } from './policy-fixtures.js';

const peers: Record<string, Peer> = {
  'auth-in-v4': meshed('web', 'default', '10.1.2.3'),
  'auth-out-v4': meshed('web', 'default', '203.0.113.7'),
  'unauth-in-v4': plain('192.168.4.5'),
  'unauth-out-v4': plain('8.8.8.8'),
  'auth-in-v6': meshed('web', 'default', 'fd00:10::5'),
  'auth-out-v6': meshed('web', 'default', '2001:db8::5'),
  'unauth-in-v6': plain('fd12::1'),
  'unauth-out-v6': plain('2001:db8::9'),
  'auth-in-mapped': meshed('web', 'default', '::ffff:172.20.0.9'),
  'unauth-in-mapped': plain('::ffff:100.64.1.1'),
  'unauth-out-mapped': plain('::ffff:8.8.4.4'),
  'spiffe-only-in-v4': spiffeOnly('spiffe://other.domain/workload', '10.9.9.9'),
  // An identity reported for a plaintext peer is a caller bug and must not count.
  'claimed-without-tls-in-v4': { tls: false, identity: 'web.default.serviceaccount.identity.lanyard.cluster.local', spiffeId: null, address: '10.1.2.3' },
  'unparseable-address': meshed('web', 'default', 'not-an-ip'),
};

// peer → [all-unauthenticated, all-authenticated, cluster-authenticated, cluster-unauthenticated, deny, audit]
const expected: Record<string, boolean[]> = {
  'auth-in-v4': [true, true, true, true, false, true],
  'auth-out-v4': [true, true, false, false, false, true],
  'unauth-in-v4': [true, false, false, true, false, true],
  'unauth-out-v4': [true, false, false, false, false, true],
  'auth-in-v6': [true, true, true, true, false, true],
  'auth-out-v6': [true, true, false, false, false, true],
  'unauth-in-v6': [true, false, false, true, false, true],
  'unauth-out-v6': [true, false, false, false, false, true],
  'auth-in-mapped': [true, true, true, true, false, true],
  'unauth-in-mapped': [true, false, false, true, false, true],
  'unauth-out-mapped': [true, false, false, false, false, true],
  'spiffe-only-in-v4': [true, true, true, true, false, true],
  'claimed-without-tls-in-v4': [true, false, false, true, false, true],
  'unparseable-address': [true, true, false, false, false, true],
};

const cases = Object.entries(expected).flatMap(([peer, allows]) =>
  POLICY_NAMES.map((policy, i) => [`ok/${policy}/${peer}`, policy, peer, allows[i]] as [string, DefaultPolicyName, string, boolean]),
);

describe('default policies', () => {
  test.each(cases)('%s', (_name, policy, peer, allow) => {
    const d = new PeerPolicy({ default: policy }).authorize(peers[peer], 8080);
    expect(d.allow).toBe(allow);
    expect(d.audit).toBe(policy === 'audit');
    expect(d.rule).toBe(`default:${policy}`);
  });
});

describe('reasons', () => {
  const p = (policy: DefaultPolicyName) => new PeerPolicy({ default: policy });
  const web = 'web.default.serviceaccount.identity.lanyard.cluster.local';
  test.each<[string, DefaultPolicyName, string, string]>([
    ['ok/all-unauthenticated', 'all-unauthenticated', 'unauth-out-v4', 'all-unauthenticated allows every peer'],
    ['ok/all-authenticated-allow', 'all-authenticated', 'auth-out-v4', `peer is authenticated as ${web}`],
    ['ok/all-authenticated-spiffe-only', 'all-authenticated', 'spiffe-only-in-v4', 'peer is authenticated as spiffe://other.domain/workload'],
    ['fail/all-authenticated', 'all-authenticated', 'unauth-in-v4', 'peer is not authenticated'],
    ['fail/all-authenticated-no-tls', 'all-authenticated', 'claimed-without-tls-in-v4', 'peer is not authenticated'],
    ['ok/cluster-authenticated', 'cluster-authenticated', 'auth-in-mapped', `peer is authenticated as ${web} and address ::ffff:172.20.0.9 is in cluster network 172.16.0.0/12`],
    ['fail/cluster-authenticated-unauth', 'cluster-authenticated', 'unauth-in-v4', 'peer is not authenticated'],
    ['fail/cluster-authenticated-outside', 'cluster-authenticated', 'auth-out-v6', 'address 2001:db8::5 is not in the cluster networks'],
    ['fail/cluster-authenticated-bad-address', 'cluster-authenticated', 'unparseable-address', 'address "not-an-ip" is not an IP address'],
    ['ok/cluster-unauthenticated', 'cluster-unauthenticated', 'unauth-in-v6', 'address fd12::1 is in cluster network fd00::/8'],
    ['fail/cluster-unauthenticated', 'cluster-unauthenticated', 'unauth-out-mapped', 'address ::ffff:8.8.4.4 is not in the cluster networks'],
    ['fail/deny', 'deny', 'auth-in-v4', 'deny refuses every peer'],
    ['ok/audit-would-refuse', 'audit', 'unauth-out-v4', 'audit allows every peer; all-authenticated would refuse it: peer is not authenticated (unauthenticated peer from 8.8.8.8)'],
    ['ok/audit-would-allow', 'audit', 'auth-out-v4', `audit allows every peer; all-authenticated would allow it: peer is authenticated as ${web} (peer ${web} from 203.0.113.7)`],
  ])('%s', (_name, policy, peer, reason) => {
    expect(p(policy).authorize(peers[peer], 80).reason).toBe(reason);
  });
});

describe('cluster networks', () => {
  test('ok/default is Linkerd\'s list', () => {
    expect(new PeerPolicy().summary().clusterNetworks).toEqual(['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8']);
  });

  test('ok/default policy is all-unauthenticated', () => {
    expect(new PeerPolicy().authorize(plain('8.8.8.8'), 80)).toEqual({
      allow: true,
      audit: false,
      rule: 'default:all-unauthenticated',
      reason: 'all-unauthenticated allows every peer',
    });
  });

  test.each<[string, string, boolean]>([
    ['ok/configured-v4', '10.20.30.40', true],
    ['ok/configured-v4-mapped', '::ffff:10.20.30.40', true],
    ['ok/configured-v6', '2001:db8:1::7', true],
    ['fail/default-network-no-longer-cluster', '192.168.1.1', false],
    ['fail/default-v6-no-longer-cluster', 'fd00::1', false],
  ])('%s', (_name, address, allow) => {
    const policy = new PeerPolicy({ default: 'cluster-unauthenticated', clusterNetworks: ['10.0.0.0/8', '2001:db8:1::/48'] });
    expect(policy.authorize(plain(address), 80).allow).toBe(allow);
  });
});
