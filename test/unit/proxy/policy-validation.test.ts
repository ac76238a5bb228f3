/**
 * A policy document is validated strictly, and every error names the exact path.
 */
import { PeerPolicy } from '../../../proxy/policy/peer-policy.js';
import { PolicyError } from '../../../proxy/policy/policy-error.js';
import { parsePolicy, validatePolicy } from '../../../proxy/policy/validate-policy.js';

function errorOf(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PolicyError);
    return e as PolicyError;
  }
  throw new Error('expected a PolicyError');
}

const NAMES = 'all-unauthenticated, all-authenticated, cluster-authenticated, cluster-unauthenticated, deny, audit';

describe('validation errors', () => {
  test.each<[string, string, string]>([
    ['fail/empty-document', '', '(document): the policy is empty; write "default: all-unauthenticated" to allow every peer explicitly'],
    ['fail/comment-only-document', '# nothing yet\n', '(document): the policy is empty; write "default: all-unauthenticated" to allow every peer explicitly'],
    ['fail/document-is-a-list', '- deny\n', '(document): expected a mapping, got list'],
    ['fail/document-is-a-string', 'deny', '(document): expected a mapping, got string'],
    ['fail/unknown-root-key', 'defualt: deny', '(document): unknown key "defualt" (expected one of default, clusterNetworks, ports)'],
    ['fail/bad-policy-name', 'default: allow-all', `default: expected one of ${NAMES}, got "allow-all"`],
    ['fail/policy-name-not-string', 'default: 1', `default: expected a policy name (one of ${NAMES}), got number`],
    ['fail/cluster-networks-not-list', 'clusterNetworks: 10.0.0.0/8', 'clusterNetworks: expected a list of strings, got string'],
    ['fail/cluster-networks-empty', 'clusterNetworks: []', 'clusterNetworks: must not be empty'],
    ['fail/cluster-network-bad', 'clusterNetworks: [10.0.0.0/8, 10.0.0.0/33]', 'clusterNetworks[1]: "10.0.0.0/33" is not a CIDR'],
    ['fail/cluster-network-host-bits', 'clusterNetworks: [10.0.0.1/8]', 'clusterNetworks[0]: "10.0.0.1/8" is not a CIDR: host bits are set (did you mean 10.0.0.0/8?)'],
    ['fail/cluster-network-not-string', 'clusterNetworks: [{a: 1}]', 'clusterNetworks[0]: expected a string, got mapping'],
    ['fail/ports-not-mapping', 'ports: [8080]', 'ports: expected a mapping, got list'],
    ['fail/port-zero', 'ports: {"0": {default: deny}}', 'ports.0: expected a TCP port from 1 to 65535, got "0"'],
    ['fail/port-too-big', 'ports: {"65536": {default: deny}}', 'ports.65536: expected a TCP port from 1 to 65535, got "65536"'],
    ['fail/port-not-number', 'ports: {http: {default: deny}}', 'ports.http: expected a TCP port from 1 to 65535, got "http"'],
    ['fail/port-leading-zero', 'ports: {"080": {default: deny}}', 'ports.080: expected a TCP port written without leading zeros or spaces (80), got "080"'],
    ['fail/port-spaces', 'ports: {" 80": {default: deny}}', 'ports. 80: expected a TCP port written without leading zeros or spaces (80), got " 80"'],
    ['fail/port-range', 'ports: {"8000-8100": {default: deny}}', 'ports.8000-8100: expected a TCP port from 1 to 65535, got "8000-8100"'],
    ['fail/port-not-mapping', 'ports: {"8080": deny}', 'ports.8080: expected a mapping, got string'],
    ['fail/port-unknown-key', 'ports: {"8080": {allows: []}}', 'ports.8080: unknown key "allows" (expected one of default, allow, audit)'],
    ['fail/port-audit-not-boolean', 'ports: {"8080": {default: deny, audit: "yes"}}', 'ports.8080.audit: expected true or false, got string'],
    ['fail/port-both-default-and-allow', 'ports: {"8080": {default: deny, allow: [{unauthenticated: true}]}}', 'ports.8080: set either default or allow, not both'],
    ['fail/port-neither', 'ports: {"8080": {}}', 'ports.8080: needs default or allow'],
    ['fail/port-bad-default', 'ports: {"8080": {default: open}}', `ports.8080.default: expected one of ${NAMES}, got "open"`],
    ['fail/allow-not-list', 'ports: {"8080": {allow: {identities: ["*"]}}}', 'ports.8080.allow: expected a list of allow entries, got mapping'],
    ['fail/allow-empty', 'ports: {"8080": {allow: []}}', 'ports.8080.allow: must not be empty (use default: deny to refuse every peer)'],
    ['fail/entry-unknown-key', 'ports: {"8080": {allow: [{identity: [a.b]}]}}', 'ports.8080.allow[0]: unknown key "identity" (expected one of identities, spiffeIds, networks, unauthenticated)'],
    ['fail/entry-empty', 'ports: {"8080": {allow: [{}]}}', 'ports.8080.allow[0]: an allow entry needs identities, spiffeIds, networks or unauthenticated: true'],
    ['fail/entry-only-unauthenticated-false', 'ports: {"8080": {allow: [{unauthenticated: false}]}}', 'ports.8080.allow[0]: an allow entry needs identities, spiffeIds, networks or unauthenticated: true'],
    ['fail/entry-not-mapping', 'ports: {"8080": {allow: ["*"]}}', 'ports.8080.allow[0]: expected a mapping, got string'],
    ['fail/identity-not-string', 'ports: {"8080": {allow: [{identities: [web.default, 42]}]}}', 'ports.8080.allow[0].identities[1]: expected a string, got number'],
    ['fail/identity-null', 'ports: {"8080": {allow: [{identities: [null]}]}}', 'ports.8080.allow[0].identities[0]: expected a string, got null'],
    ['fail/identities-not-list', 'ports: {"8080": {allow: [{identities: web.default}]}}', 'ports.8080.allow[0].identities: expected a list of strings, got string'],
    ['fail/identities-empty', 'ports: {"8080": {allow: [{identities: []}]}}', 'ports.8080.allow[0].identities: must not be empty'],
    ['fail/identity-upper-case', 'ports: {"8080": {allow: [{identities: [Web.default]}]}}', 'ports.8080.allow[0].identities[0]: "Web.default" is not an identity (expected a DNS name, "*.suffix" or "*")'],
    ['fail/identity-inner-wildcard', 'ports: {"8080": {allow: [{identities: ["web.*.serviceaccount"]}]}}', 'ports.8080.allow[0].identities[0]: "web.*.serviceaccount" is not an identity (expected a DNS name, "*.suffix" or "*")'],
    ['fail/identity-bare-suffix-wildcard', 'ports: {"8080": {allow: [{identities: ["*."]}]}}', 'ports.8080.allow[0].identities[0]: "*." is not an identity (expected a DNS name, "*.suffix" or "*")'],
    ['fail/identity-partial-label-wildcard', 'ports: {"8080": {allow: [{identities: ["*web.default"]}]}}', 'ports.8080.allow[0].identities[0]: "*web.default" is not an identity (expected a DNS name, "*.suffix" or "*")'],
    ['fail/spiffe-wrong-scheme', 'ports: {"8080": {allow: [{spiffeIds: ["https://cluster.local/ns/a/sa/b"]}]}}', 'ports.8080.allow[0].spiffeIds[0]: "https://cluster.local/ns/a/sa/b" is not a SPIFFE ID (expected spiffe://<trust-domain>/<path>, optionally ending in "/*")'],
    ['fail/spiffe-inner-wildcard', 'ports: {"8080": {allow: [{spiffeIds: ["spiffe://cluster.local/ns/*/sa/b"]}]}}', 'ports.8080.allow[0].spiffeIds[0]: "spiffe://cluster.local/ns/*/sa/b" is not a SPIFFE ID (expected spiffe://<trust-domain>/<path>, optionally ending in "/*")'],
    ['fail/spiffe-dot-segment', 'ports: {"8080": {allow: [{spiffeIds: ["spiffe://cluster.local/ns/../sa/b"]}]}}', 'ports.8080.allow[0].spiffeIds[0]: "spiffe://cluster.local/ns/../sa/b" is not a SPIFFE ID (expected spiffe://<trust-domain>/<path>, optionally ending in "/*")'],
    ['fail/spiffe-trailing-slash', 'ports: {"8080": {allow: [{spiffeIds: ["spiffe://cluster.local/ns/"]}]}}', 'ports.8080.allow[0].spiffeIds[0]: "spiffe://cluster.local/ns/" is not a SPIFFE ID (expected spiffe://<trust-domain>/<path>, optionally ending in "/*")'],
    ['fail/spiffe-upper-case-trust-domain', 'ports: {"8080": {allow: [{spiffeIds: ["spiffe://Cluster.local/x"]}]}}', 'ports.8080.allow[0].spiffeIds[0]: "spiffe://Cluster.local/x" is not a SPIFFE ID (expected spiffe://<trust-domain>/<path>, optionally ending in "/*")'],
    ['fail/network-bad', 'ports: {"8080": {allow: [{identities: ["*"]}, {networks: ["10.0.0.0/33"]}]}}', 'ports.8080.allow[1].networks[0]: "10.0.0.0/33" is not a CIDR'],
    ['fail/unauthenticated-not-boolean', 'ports: {"8080": {allow: [{unauthenticated: "yes"}]}}', 'ports.8080.allow[0].unauthenticated: expected true or false, got string'],
    ['fail/unauthenticated-with-networks', 'ports: {"8080": {allow: [{unauthenticated: true, networks: [10.0.0.0/8]}]}}', 'ports.8080.allow[0]: unauthenticated: true admits every peer and cannot be combined with identities, spiffeIds or networks'],
    ['fail/duplicate-key', 'default: deny\ndefault: audit\n', '(document): not valid YAML or JSON at line 2, column 1: Map keys must be unique'],
    ['fail/yaml-syntax', 'ports: {"8080": [}', '(document): not valid YAML or JSON at line 1, column 18: Flow sequence in block collection must be sufficiently indented and end with a ]'],
    ['fail/json-syntax', '{"default": "deny",}x', '(document): not valid YAML or JSON at line 1, column 21: Unexpected scalar at node end'],
  ])('%s', (_name, text, message) => {
    expect(errorOf(() => parsePolicy(text)).message).toBe(message);
  });

  test('fail/the error carries code, path and detail', () => {
    const e = errorOf(() => parsePolicy('ports: {"8080": {allow: [{identities: ["*"]}, {networks: ["10.0.0.0/33"]}]}}'));
    expect([e.code, e.path, e.detail]).toEqual(['ERR_POLICY_INVALID', 'ports.8080.allow[1].networks[0]', '"10.0.0.0/33" is not a CIDR']);
    expect(e.from('policy file /etc/p.yaml').message).toBe('policy file /etc/p.yaml: ports.8080.allow[1].networks[0]: "10.0.0.0/33" is not a CIDR');
    expect(errorOf(() => parsePolicy('a: [')).code).toBe('ERR_POLICY_SYNTAX');
  });

  test('fail/PeerPolicy refuses an invalid config object', () => {
    expect(errorOf(() => new PeerPolicy({ clusterNetworks: ['bogus'] })).message).toBe('clusterNetworks[0]: "bogus" is not a CIDR');
  });
});

describe('valid documents', () => {
  test('ok/yaml and json give the same policy', () => {
    const yaml = parsePolicy(`
default: all-authenticated
clusterNetworks: [10.0.0.0/8, fd00::/8]
ports:
  8080:
    allow:
      - identities: ["web.default.serviceaccount.identity.lanyard.cluster.local", "*.prod.serviceaccount.identity.lanyard.cluster.local"]
      - spiffeIds: ["spiffe://cluster.local/ns/ops/sa/prober"]
      - networks: ["192.168.10.0/24"]
  "9090":
    default: all-unauthenticated
`);
    const json = parsePolicy(
      JSON.stringify({
        default: 'all-authenticated',
        clusterNetworks: ['10.0.0.0/8', 'fd00::/8'],
        ports: {
          '8080': {
            allow: [
              { identities: ['web.default.serviceaccount.identity.lanyard.cluster.local', '*.prod.serviceaccount.identity.lanyard.cluster.local'] },
              { spiffeIds: ['spiffe://cluster.local/ns/ops/sa/prober'] },
              { networks: ['192.168.10.0/24'] },
            ],
          },
          '9090': { default: 'all-unauthenticated' },
        },
      }),
    );
    expect(yaml).toEqual(json);
    expect(validatePolicy(yaml)).toEqual(yaml);
  });

  test.each<[string, string]>([
    ['ok/spiffe-trust-domain-only', 'spiffe://cluster.local'],
    ['ok/spiffe-trust-domain-wildcard', 'spiffe://cluster.local/*'],
    ['ok/spiffe-underscore-and-dots', 'spiffe://example.org/a_b/c.d-e'],
  ])('%s', (_name, id) => {
    expect(parsePolicy(`ports: {"1": {allow: [{spiffeIds: ["${id}"]}]}}`).ports!['1'].allow![0].spiffeIds).toEqual([id]);
  });

  test('ok/unauthenticated false beside a condition is the same as absent', () => {
    expect(parsePolicy('ports: {"1": {allow: [{unauthenticated: false, networks: [10.0.0.0/8]}]}}').ports!['1'].allow).toEqual([{ networks: ['10.0.0.0/8'] }]);
  });
});
