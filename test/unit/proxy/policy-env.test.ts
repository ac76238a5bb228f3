/**
 * Policy from environment variables, layered over the file; errors name the variable and
 * its flag.
 */
import { PolicyError } from '../../../proxy/policy/policy-error.js';
import { mergePolicies, policyFromEnv, policyOverridesFromEnv, POLICY_ENV } from '../../../proxy/policy/policy-env.js';
import { parsePolicy } from '../../../proxy/policy/validate-policy.js';
import { meshed, plain } from './policy-fixtures.js';

const file = parsePolicy(`
default: all-authenticated
clusterNetworks: [10.0.0.0/8]
ports:
  "8080": {allow: [{identities: ["*.prod.serviceaccount.identity.lanyard.cluster.local"]}]}
  "9090": {default: all-unauthenticated}
`);

describe('policyOverridesFromEnv', () => {
  test('ok/names of the variables', () => {
    expect(POLICY_ENV).toEqual({
      file: 'LANYARD_PROXY_POLICY_FILE',
      inline: 'LANYARD_PROXY_POLICY',
      defaultPolicy: 'LANYARD_PROXY_DEFAULT_POLICY',
      clusterNetworks: 'LANYARD_PROXY_CLUSTER_NETWORKS',
    });
  });

  test.each<[string, Record<string, string>, object]>([
    ['ok/nothing-set', {}, {}],
    ['ok/empty-and-blank-are-unset', { LANYARD_PROXY_DEFAULT_POLICY: '', LANYARD_PROXY_CLUSTER_NETWORKS: '  ', LANYARD_PROXY_POLICY: '\n' }, {}],
    ['ok/default-policy', { LANYARD_PROXY_DEFAULT_POLICY: 'deny' }, { default: 'deny' }],
    ['ok/default-policy-trimmed', { LANYARD_PROXY_DEFAULT_POLICY: ' cluster-authenticated\n' }, { default: 'cluster-authenticated' }],
    ['ok/cluster-networks', { LANYARD_PROXY_CLUSTER_NETWORKS: '10.0.0.0/8, fd00::/8' }, { clusterNetworks: ['10.0.0.0/8', 'fd00::/8'] }],
    ['ok/cluster-networks-trailing-comma', { LANYARD_PROXY_CLUSTER_NETWORKS: '10.0.0.0/8,' }, { clusterNetworks: ['10.0.0.0/8'] }],
    ['ok/inline-json', { LANYARD_PROXY_POLICY: '{"default":"audit","ports":{"80":{"default":"deny"}}}' }, { inline: { default: 'audit', ports: { '80': { default: 'deny' } } } }],
    ['ok/inline-yaml', { LANYARD_PROXY_POLICY: 'ports:\n  "80":\n    allow:\n      - networks: [10.1.0.0/16]\n' }, { inline: { ports: { '80': { allow: [{ networks: ['10.1.0.0/16'] }] } } } }],
  ])('%s', (_name, env, expected) => {
    expect(policyOverridesFromEnv(env)).toEqual(expected);
  });

  test.each<[string, Record<string, string>, string]>([
    [
      'fail/default-policy',
      { LANYARD_PROXY_DEFAULT_POLICY: 'allow' },
      '--default-policy (env LANYARD_PROXY_DEFAULT_POLICY): expected one of all-unauthenticated, all-authenticated, cluster-authenticated, cluster-unauthenticated, deny, audit, got "allow"',
    ],
    ['fail/cluster-network', { LANYARD_PROXY_CLUSTER_NETWORKS: '10.0.0.0/8,10.0.0.0/33' }, '--cluster-networks (env LANYARD_PROXY_CLUSTER_NETWORKS): [1]: "10.0.0.0/33" is not a CIDR'],
    ['fail/cluster-networks-only-commas', { LANYARD_PROXY_CLUSTER_NETWORKS: ' , ,' }, '--cluster-networks (env LANYARD_PROXY_CLUSTER_NETWORKS): lists no CIDR'],
    [
      'fail/inline-invalid',
      { LANYARD_PROXY_POLICY: '{"ports":{"8080":{"allow":[{"networks":["10.0.0.0/33"]}]}}}' },
      '--policy (env LANYARD_PROXY_POLICY): ports.8080.allow[0].networks[0]: "10.0.0.0/33" is not a CIDR',
    ],
    ['fail/inline-syntax', { LANYARD_PROXY_POLICY: '{"default": ' }, '--policy (env LANYARD_PROXY_POLICY): (document): not valid YAML or JSON at line 1, column 12: Flow map must end with a }'],
  ])('%s', (_name, env, message) => {
    let err: unknown;
    try {
      policyOverridesFromEnv(env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PolicyError);
    expect((err as Error).message).toBe(message);
  });
});

describe('policyFromEnv', () => {
  test('ok/no file, no variables: Linkerd\'s default', () => {
    expect(policyFromEnv({}).summary()).toEqual({ default: 'all-unauthenticated', clusterNetworks: ['10.0.0.0/8', '100.64.0.0/10', '172.16.0.0/12', '192.168.0.0/16', 'fd00::/8'], ports: {} });
  });

  test('ok/variables alone', () => {
    const p = policyFromEnv({ LANYARD_PROXY_DEFAULT_POLICY: 'cluster-unauthenticated', LANYARD_PROXY_CLUSTER_NETWORKS: '203.0.113.0/24' });
    expect(p.authorize(plain('203.0.113.9'), 80).allow).toBe(true);
    expect(p.authorize(plain('10.0.0.1'), 80).reason).toBe('address 10.0.0.1 is not in the cluster networks');
  });

  test('ok/file alone', () => {
    expect(policyFromEnv({}, file).summary()).toEqual({ default: 'all-authenticated', clusterNetworks: ['10.0.0.0/8'], ports: { '8080': 'allow[1]', '9090': 'all-unauthenticated' } });
  });

  test('ok/variables override the file\'s default and networks, and keep its ports', () => {
    const p = policyFromEnv({ LANYARD_PROXY_DEFAULT_POLICY: 'deny', LANYARD_PROXY_CLUSTER_NETWORKS: '192.168.0.0/16' }, file);
    expect(p.summary()).toEqual({ default: 'deny', clusterNetworks: ['192.168.0.0/16'], ports: { '8080': 'allow[1]', '9090': 'all-unauthenticated' } });
    expect(p.authorize(meshed('api', 'prod', '8.8.8.8'), 8080).rule).toBe('port:8080/allow[0] identity *.prod.serviceaccount.identity.lanyard.cluster.local');
    expect(p.authorize(meshed('api', 'prod', '8.8.8.8'), 7000).rule).toBe('default:deny');
  });

  test('ok/inline policy replaces a port wholesale and adds ports; single variables win over it', () => {
    const p = policyFromEnv(
      {
        LANYARD_PROXY_POLICY: 'default: audit\nclusterNetworks: [172.16.0.0/12]\nports: {"8080": {default: deny}, "7000": {allow: [{unauthenticated: true}]}}',
        LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated',
      },
      file,
    );
    expect(p.summary()).toEqual({
      default: 'all-authenticated',
      clusterNetworks: ['172.16.0.0/12'],
      ports: { '8080': 'deny', '9090': 'all-unauthenticated', '7000': 'allow[1]' },
    });
  });

  test('ok/mergePolicies: later layers win, ports merge by port', () => {
    expect(mergePolicies({ default: 'deny', ports: { '1': { default: 'deny' }, '2': { default: 'deny' } } }, { ports: { '2': { default: 'audit' } } }, {})).toEqual({
      default: 'deny',
      ports: { '1': { default: 'deny' }, '2': { default: 'audit' } },
    });
  });
});
