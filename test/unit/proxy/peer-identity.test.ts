/**
 * provePeer: what a verified peer certificate proves. A table over Node's subjectaltname
 * strings: DNS-only and SPIFFE-only leaves prove their one name; both must name the same
 * service account; CA certificates and several URI SANs are refused.
 */
import { provePeer } from '../../../proxy/tls/peer-identity.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const WEB_ID = 'spiffe://cluster.local/ns/default/sa/web';

test.each([
  ['ok/dns-and-spiffe-agree', { subjectaltname: `DNS:${WEB}, URI:${WEB_ID}` }, { identity: WEB, spiffeId: WEB_ID }],
  ['ok/dns-only (a Linkerd leaf)', { subjectaltname: `DNS:${WEB}` }, { identity: WEB, spiffeId: null }],
  ['ok/spiffe-only (an SVID)', { subjectaltname: `URI:${WEB_ID}` }, { identity: null, spiffeId: WEB_ID }],
  ['ok/another-control-namespace', { subjectaltname: `DNS:web.default.serviceaccount.identity.linkerd.cluster.local, URI:${WEB_ID}` }, { identity: 'web.default.serviceaccount.identity.linkerd.cluster.local', spiffeId: WEB_ID }],
  ['ok/dns-case-insensitive', { subjectaltname: `DNS:WEB.default.serviceaccount.identity.lanyard.cluster.local, URI:${WEB_ID}` }, { identity: 'WEB.default.serviceaccount.identity.lanyard.cluster.local', spiffeId: WEB_ID }],
  ['ok/no-names', { subjectaltname: undefined }, { identity: null, spiffeId: null }],
  ['ok/trust-domain-that-includes-the-control-namespace', { subjectaltname: 'DNS:web.default.serviceaccount.identity.mesh.cluster.local, URI:spiffe://mesh.cluster.local/ns/default/sa/web' }, { identity: 'web.default.serviceaccount.identity.mesh.cluster.local', spiffeId: 'spiffe://mesh.cluster.local/ns/default/sa/web' }],
  ['ok/no-control-namespace', { subjectaltname: `DNS:web.default.serviceaccount.identity.cluster.local, URI:${WEB_ID}` }, { identity: 'web.default.serviceaccount.identity.cluster.local', spiffeId: WEB_ID }],
  ['ok/other-dns-names-are-not-identities', { subjectaltname: `DNS:localhost, DNS:${WEB}, IP Address:127.0.0.1, URI:${WEB_ID}` }, { identity: WEB, spiffeId: WEB_ID }],
  ['ok/non-workload-dns-with-spiffe: the SPIFFE ID is the identity', { subjectaltname: `DNS:web.example.com, URI:${WEB_ID}` }, { identity: null, spiffeId: WEB_ID }],
  ['ok/non-workload-dns-only: named by it (as Linkerd does)', { subjectaltname: 'DNS:web.example.com' }, { identity: 'web.example.com', spiffeId: null }],
  ['ok/ca-false', { subjectaltname: `DNS:${WEB}`, ca: false }, { identity: WEB, spiffeId: null }],
])('%s', (_name, cert, want) => {
  expect(provePeer(cert)).toEqual(want);
});

test.each([
  ['fail/ca-true', { subjectaltname: `DNS:${WEB}, URI:${WEB_ID}`, ca: true }, 'a CA certificate (basicConstraints CA:TRUE) is not a workload certificate'],
  ['fail/other-namespace', { subjectaltname: `DNS:${WEB}, URI:spiffe://cluster.local/ns/prod/sa/web` }, `DNS identity ${WEB} and SPIFFE ID spiffe://cluster.local/ns/prod/sa/web name different service accounts`],
  ['fail/other-account', { subjectaltname: `DNS:${WEB}, URI:spiffe://cluster.local/ns/prod/sa/admin` }, `DNS identity ${WEB} and SPIFFE ID spiffe://cluster.local/ns/prod/sa/admin name different service accounts`],
  ['fail/other-trust-domain', { subjectaltname: `DNS:${WEB}, URI:spiffe://example.org/ns/default/sa/web` }, `DNS identity ${WEB} and SPIFFE ID spiffe://example.org/ns/default/sa/web name different service accounts`],
  ['fail/second-dns-disagrees', { subjectaltname: `DNS:${WEB}, DNS:admin.prod.serviceaccount.identity.lanyard.cluster.local, URI:${WEB_ID}` }, `DNS identity admin.prod.serviceaccount.identity.lanyard.cluster.local and SPIFFE ID ${WEB_ID} name different service accounts`],
  ['fail/trust-domain-as-a-label-suffix', { subjectaltname: `DNS:web.default.serviceaccount.identity.lanyard.evilcluster.local, URI:${WEB_ID}` }, `DNS identity web.default.serviceaccount.identity.lanyard.evilcluster.local and SPIFFE ID ${WEB_ID} name different service accounts`],
  ['fail/two-labels-before-the-trust-domain', { subjectaltname: `DNS:web.default.serviceaccount.identity.a.b.cluster.local, URI:${WEB_ID}` }, `DNS identity web.default.serviceaccount.identity.a.b.cluster.local and SPIFFE ID ${WEB_ID} name different service accounts`],
  ['fail/malformed-spiffe', { subjectaltname: `DNS:${WEB}, URI:spiffe://cluster.local/default/web` }, `DNS identity ${WEB} and SPIFFE ID spiffe://cluster.local/default/web name different service accounts`],
  ['fail/two-uris', { subjectaltname: `URI:${WEB_ID}, URI:spiffe://cluster.local/ns/prod/sa/admin` }, 'more than one URI SAN (an X509-SVID has exactly one)'],
])('%s', (_name, cert, refusal) => {
  expect(provePeer(cert)).toEqual({ refusal });
});
