/**
 * Per-port rules: a flat allow list where any match grants access, a port's own default,
 * and the rule name every decision carries.
 */
import { PeerPolicy } from '../../../proxy/policy/peer-policy.js';
import type { Decision, Peer } from '../../../proxy/policy/peer.js';
import { parsePolicy } from '../../../proxy/policy/validate-policy.js';
import { id, meshed, plain, spiffe, spiffeOnly } from './policy-fixtures.js';

const policy = new PeerPolicy(
  parsePolicy(`
default: deny
clusterNetworks: [10.0.0.0/8, fd00::/8]
ports:
  "8080":
    allow:
      - identities: ["web.default.serviceaccount.identity.lanyard.cluster.local", "*.prod.serviceaccount.identity.lanyard.cluster.local"]
      - spiffeIds: ["spiffe://cluster.local/ns/ops/sa/prober", "spiffe://cluster.local/ns/batch/*"]
      - networks: ["192.168.10.0/24", "2001:db8:10::/48"]
      - identities: ["*.monitoring.serviceaccount.identity.lanyard.cluster.local"]
        networks: [10.50.0.0/16]
  "8081":
    allow:
      - identities: ["*"]
  "8082":
    allow:
      - unauthenticated: true
  "8083":
    allow:
      - identities: ["*"]
        networks: [fd00::/8]
      - spiffeIds: ["spiffe://cluster.local/*"]
  "9090":
    default: all-unauthenticated
  "9091":
    default: audit
`),
);

const web = id('web', 'default');
const api = id('api', 'prod');

type Case = [name: string, peer: Peer, port: number, allow: boolean, rule: string, reason: string];

const cases: Case[] = [
  ['ok/exact-identity', meshed('web', 'default', '203.0.113.1'), 8080, true, `port:8080/allow[0] identity ${web}`, `identity ${web} matched ${web}`],
  ['ok/exact-identity-case-insensitive', { ...meshed('web', 'default', '203.0.113.1'), identity: web.toUpperCase() }, 8080, true, `port:8080/allow[0] identity ${web}`, `identity ${web} matched ${web}`],
  ['ok/suffix-wildcard', meshed('api', 'prod', '203.0.113.1'), 8080, true, 'port:8080/allow[0] identity *.prod.serviceaccount.identity.lanyard.cluster.local', `identity ${api} matched *.prod.serviceaccount.identity.lanyard.cluster.local`],
  ['fail/suffix-wildcard-needs-a-label-before-it', { tls: true, identity: 'prod.serviceaccount.identity.lanyard.cluster.local', spiffeId: null, address: '203.0.113.1' }, 8080, false, 'port:8080/no-match', 'no allow entry of port 8080 matched peer prod.serviceaccount.identity.lanyard.cluster.local from 203.0.113.1'],
  ['fail/suffix-is-not-substring', { tls: true, identity: 'api.preprod.serviceaccount.identity.lanyard.cluster.local', spiffeId: null, address: '203.0.113.1' }, 8080, false, 'port:8080/no-match', 'no allow entry of port 8080 matched peer api.preprod.serviceaccount.identity.lanyard.cluster.local from 203.0.113.1'],
  ['ok/spiffe-exact', spiffeOnly(spiffe('prober', 'ops'), '203.0.113.1'), 8080, true, 'port:8080/allow[1] spiffeId spiffe://cluster.local/ns/ops/sa/prober', 'SPIFFE ID spiffe://cluster.local/ns/ops/sa/prober matched spiffe://cluster.local/ns/ops/sa/prober'],
  ['ok/spiffe-prefix', meshed('job', 'batch', '203.0.113.1'), 8080, true, 'port:8080/allow[1] spiffeId spiffe://cluster.local/ns/batch/*', 'SPIFFE ID spiffe://cluster.local/ns/batch/sa/job matched spiffe://cluster.local/ns/batch/*'],
  ['fail/spiffe-prefix-is-segment-aligned', spiffeOnly('spiffe://cluster.local/ns/batchx/sa/job', '203.0.113.1'), 8080, false, 'port:8080/no-match', 'no allow entry of port 8080 matched peer spiffe://cluster.local/ns/batchx/sa/job from 203.0.113.1'],
  ['fail/spiffe-prefix-needs-something-below', spiffeOnly('spiffe://cluster.local/ns/batch/', '203.0.113.1'), 8080, false, 'port:8080/no-match', 'no allow entry of port 8080 matched peer spiffe://cluster.local/ns/batch/ from 203.0.113.1'],
  ['ok/network-unauthenticated', plain('192.168.10.77'), 8080, true, 'port:8080/allow[2] network 192.168.10.0/24', 'address 192.168.10.77 is in 192.168.10.0/24'],
  ['ok/network-v4-mapped', plain('::ffff:192.168.10.77'), 8080, true, 'port:8080/allow[2] network 192.168.10.0/24', 'address ::ffff:192.168.10.77 is in 192.168.10.0/24'],
  ['ok/network-v6', plain('2001:db8:10:ff::1'), 8080, true, 'port:8080/allow[2] network 2001:db8:10::/48', 'address 2001:db8:10:ff::1 is in 2001:db8:10::/48'],
  ['ok/network-authenticated-stranger', meshed('x', 'other', '192.168.10.1'), 8080, true, 'port:8080/allow[2] network 192.168.10.0/24', 'address 192.168.10.1 is in 192.168.10.0/24'],
  ['fail/network-outside', plain('192.168.11.1'), 8080, false, 'port:8080/no-match', 'no allow entry of port 8080 matched unauthenticated peer from 192.168.11.1'],
  ['ok/identity-and-network', meshed('prom', 'monitoring', '10.50.3.4'), 8080, true, 'port:8080/allow[3] identity *.monitoring.serviceaccount.identity.lanyard.cluster.local network 10.50.0.0/16', `identity ${id('prom', 'monitoring')} matched *.monitoring.serviceaccount.identity.lanyard.cluster.local and address 10.50.3.4 is in 10.50.0.0/16`],
  ['fail/identity-right-network-wrong', meshed('prom', 'monitoring', '10.51.3.4'), 8080, false, 'port:8080/no-match', `no allow entry of port 8080 matched peer ${id('prom', 'monitoring')} from 10.51.3.4`],
  ['fail/network-right-identity-missing', plain('10.50.3.4'), 8080, false, 'port:8080/no-match', 'no allow entry of port 8080 matched unauthenticated peer from 10.50.3.4'],
  ['fail/identity-not-listed', meshed('web', 'staging', '10.1.1.1'), 8080, false, 'port:8080/no-match', `no allow entry of port 8080 matched peer ${id('web', 'staging')} from 10.1.1.1`],
  ['fail/plaintext-claiming-identity', { tls: false, identity: web, spiffeId: null, address: '203.0.113.1' }, 8080, false, 'port:8080/no-match', 'no allow entry of port 8080 matched unauthenticated peer from 203.0.113.1'],
  ['ok/star-any-authenticated', meshed('x', 'y', '203.0.113.1'), 8081, true, 'port:8081/allow[0] identity *', `identity ${id('x', 'y')} matched *`],
  ['ok/star-spiffe-only', spiffeOnly('spiffe://other.domain/w', '203.0.113.1'), 8081, true, 'port:8081/allow[0] identity *', 'identity spiffe://other.domain/w matched *'],
  ['fail/star-unauthenticated', plain('10.0.0.1'), 8081, false, 'port:8081/no-match', 'no allow entry of port 8081 matched unauthenticated peer from 10.0.0.1'],
  ['ok/unauthenticated-entry', plain('8.8.8.8'), 8082, true, 'port:8082/allow[0] unauthenticated', 'the entry admits unauthenticated peers'],
  ['ok/star-from-network-v6', meshed('x', 'y', 'fd00::9'), 8083, true, 'port:8083/allow[0] identity * network fd00::/8', `identity ${id('x', 'y')} matched * and address fd00::9 is in fd00::/8`],
  ['ok/second-entry-when-first-fails', meshed('x', 'y', '10.0.0.9'), 8083, true, 'port:8083/allow[1] spiffeId spiffe://cluster.local/*', 'SPIFFE ID spiffe://cluster.local/ns/y/sa/x matched spiffe://cluster.local/*'],
  ['ok/port-default', plain('8.8.8.8'), 9090, true, 'port:9090/default:all-unauthenticated', 'all-unauthenticated allows every peer'],
  ['fail/unlisted-port-uses-default', meshed('web', 'default', '10.0.0.1'), 7000, false, 'default:deny', 'deny refuses every peer'],
];

describe('per-port rules', () => {
  test.each(cases)('%s', (_name, peer, port, allow, rule, reason) => {
    expect(policy.authorize(peer, port)).toEqual<Decision>({ allow, audit: false, rule, reason });
  });

  test('ok/port-default-audit flags what all-authenticated would refuse', () => {
    expect(policy.authorize(plain('8.8.8.8'), 9091)).toEqual<Decision>({
      allow: true,
      audit: true,
      wouldDeny: true,
      rule: 'port:9091/default:audit',
      reason: 'audit allows every peer; all-authenticated would refuse it: peer is not authenticated (unauthenticated peer from 8.8.8.8)',
    });
    expect(policy.authorize(meshed('web', 'default', '8.8.8.8'), 9091)).toMatchObject<Partial<Decision>>({ allow: true, audit: true, wouldDeny: false, rule: 'port:9091/default:audit' });
  });
});

describe('dry-run ports (audit: true)', () => {
  const dry = new PeerPolicy(
    parsePolicy(`
default: deny
ports:
  "8080":
    allow: [{identities: ["web.default.serviceaccount.identity.lanyard.cluster.local"]}]
    audit: true
  "8081":
    default: all-authenticated
    audit: true
  "8082":
    default: deny
    audit: false
`),
  );

  test.each<[string, Peer, number, Decision]>([
    ['ok/matching-entry-is-allowed-and-not-flagged', meshed('web', 'default', '10.0.0.1'), 8080, { allow: true, audit: true, wouldDeny: false, rule: `port:8080/allow[0] identity ${web}`, reason: `identity ${web} matched ${web}` }],
    [
      'ok/no-match-is-allowed-and-flagged-with-the-refusing-rule',
      meshed('db', 'default', '10.0.0.1'),
      8080,
      { allow: true, audit: true, wouldDeny: true, rule: 'port:8080/no-match', reason: `no allow entry of port 8080 matched peer ${id('db', 'default')} from 10.0.0.1 (audit: allowed, enforcing would refuse)` },
    ],
    ['ok/port-default-refusal-is-flagged', plain('10.0.0.1'), 8081, { allow: true, audit: true, wouldDeny: true, rule: 'port:8081/default:all-authenticated', reason: 'peer is not authenticated (audit: allowed, enforcing would refuse)' }],
    ['ok/port-default-allow-is-not-flagged', meshed('x', 'y', '10.0.0.1'), 8081, { allow: true, audit: true, wouldDeny: false, rule: 'port:8081/default:all-authenticated', reason: `peer is authenticated as ${id('x', 'y')}` }],
    ['fail/audit-false-enforces', meshed('web', 'default', '10.0.0.1'), 8082, { allow: false, audit: false, rule: 'port:8082/default:deny', reason: 'deny refuses every peer' }],
    ['fail/other-ports-still-enforce', meshed('web', 'default', '10.0.0.1'), 9000, { allow: false, audit: false, rule: 'default:deny', reason: 'deny refuses every peer' }],
  ])('%s', (_name, peer, port, want) => {
    expect(dry.authorize(peer, port)).toEqual<Decision>(want);
  });

  test('ok/the summary marks dry-run ports', () => {
    expect(dry.summary().ports).toEqual({ '8080': 'allow[1] audit', '8081': 'all-authenticated audit', '8082': 'deny' });
  });
});

describe('rule names', () => {
  test('ok/the most specific pattern of an entry names the decision', () => {
    const p = new PeerPolicy({
      ports: { '80': { allow: [{ identities: ['*', '*.serviceaccount.identity.lanyard.cluster.local', '*.prod.serviceaccount.identity.lanyard.cluster.local', id('api', 'prod')] }] } },
    });
    expect(p.authorize(meshed('api', 'prod', '10.0.0.1'), 80).rule).toBe(`port:80/allow[0] identity ${id('api', 'prod')}`);
    expect(p.authorize(meshed('db', 'prod', '10.0.0.1'), 80).rule).toBe('port:80/allow[0] identity *.prod.serviceaccount.identity.lanyard.cluster.local');
    expect(p.authorize(meshed('db', 'dev', '10.0.0.1'), 80).rule).toBe('port:80/allow[0] identity *.serviceaccount.identity.lanyard.cluster.local');
    expect(p.authorize(spiffeOnly('spiffe://x/y', '10.0.0.1'), 80).rule).toBe('port:80/allow[0] identity *');
  });

  test('ok/the first matching entry names the decision', () => {
    const p = new PeerPolicy({ ports: { '80': { allow: [{ networks: ['10.0.0.0/8'] }, { identities: ['*'] }] } } });
    expect(p.authorize(meshed('a', 'b', '10.0.0.1'), 80).rule).toBe('port:80/allow[0] network 10.0.0.0/8');
    expect(p.authorize(meshed('a', 'b', '11.0.0.1'), 80).rule).toBe('port:80/allow[1] identity *');
  });

  test('ok/decisions are stable across calls and policies built from the same config', () => {
    const again = new PeerPolicy(policy.config);
    for (const [, peer, port] of cases) expect(again.authorize(peer, port)).toEqual(policy.authorize(peer, port));
  });

  test('ok/summary lists ports', () => {
    expect(policy.summary()).toEqual({
      default: 'deny',
      clusterNetworks: ['10.0.0.0/8', 'fd00::/8'],
      ports: { '8080': 'allow[4]', '8081': 'allow[1]', '8082': 'allow[1]', '8083': 'allow[2]', '9090': 'all-unauthenticated', '9091': 'audit' },
    });
  });
});
