import { TrustDomain, parseServiceAccountUsername, parseSpiffeId, isDnsName } from '../../../src/pki/names.js';

describe('TrustDomain', () => {
  const td = new TrustDomain();

  test.each([
    ['ok/default', { namespace: 'default', serviceAccount: 'web' }, 'web.default.serviceaccount.identity.lanyard.cluster.local', 'spiffe://cluster.local/ns/default/sa/web'],
    ['ok/dashes', { namespace: 'team-a', serviceAccount: 'api-v2' }, 'api-v2.team-a.serviceaccount.identity.lanyard.cluster.local', 'spiffe://cluster.local/ns/team-a/sa/api-v2'],
  ])('%s', (_name, ref, identity, spiffe) => {
    expect(td.identity(ref)).toBe(identity);
    expect(td.spiffeId(ref)).toBe(spiffe);
    expect(td.parse(identity)).toEqual(ref);
  });

  test('names follow the configured trust domain and control namespace', () => {
    const other = new TrustDomain('mesh.example', 'ctl');
    expect(other.identity({ namespace: 'ns', serviceAccount: 'sa' })).toBe('sa.ns.serviceaccount.identity.ctl.mesh.example');
    expect(other.spiffeId({ namespace: 'ns', serviceAccount: 'sa' })).toBe('spiffe://mesh.example/ns/ns/sa/sa');
  });

  test.each([
    ['fail/other-domain', 'web.default.serviceaccount.identity.lanyard.example.org'],
    ['fail/other-control-ns', 'web.default.serviceaccount.identity.linkerd.cluster.local'],
    ['fail/three-labels', 'a.web.default.serviceaccount.identity.lanyard.cluster.local'],
    ['fail/upper-case', 'Web.default.serviceaccount.identity.lanyard.cluster.local'],
    ['fail/empty-label', '.default.serviceaccount.identity.lanyard.cluster.local'],
    ['fail/underscore', 'we_b.default.serviceaccount.identity.lanyard.cluster.local'],
    ['fail/empty', ''],
  ])('%s', (_name, identity) => {
    expect(td.parse(identity)).toBeNull();
  });

  test('fail/bad trust domain is refused at construction', () => {
    expect(() => new TrustDomain('Bad_Domain')).toThrow(/trust domain/);
    expect(() => new TrustDomain('cluster.local', 'Bad')).toThrow(/control-plane namespace/);
  });
});

describe('parseServiceAccountUsername', () => {
  test.each([
    ['ok', 'system:serviceaccount:default:web', { namespace: 'default', serviceAccount: 'web' }],
    ['fail/user', 'alice', null],
    ['fail/node', 'system:node:worker-1', null],
    ['fail/too-many-parts', 'system:serviceaccount:default:web:x', null],
    ['fail/bad-label', 'system:serviceaccount:default:Web', null],
    ['fail/dotted-sa', 'system:serviceaccount:default:a.b', null],
  ])('%s', (_n, username, expected) => {
    expect(parseServiceAccountUsername(username)).toEqual(expected);
  });
});

describe('parseSpiffeId / isDnsName', () => {
  test('ok/spiffe', () => {
    expect(parseSpiffeId('spiffe://cluster.local/ns/default/sa/web')).toEqual({ trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'web' });
  });
  test('fail/spiffe-path', () => {
    expect(parseSpiffeId('spiffe://cluster.local/ns/default')).toBeNull();
    expect(parseSpiffeId('https://cluster.local/ns/default/sa/web')).toBeNull();
  });
  test('dns names', () => {
    expect(isDnsName('a.b-c.d')).toBe(true);
    expect(isDnsName('a..b')).toBe(false);
    expect(isDnsName('x'.repeat(64))).toBe(false);
  });
});
