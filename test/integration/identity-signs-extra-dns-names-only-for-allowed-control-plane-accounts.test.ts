/**
 * The identity service signs an extra DNS name only for the service account the operator's
 * allow-list names, and only the names on it: the injector gets lanyard-injector.lanyard.svc,
 * a workload asking for the same name is refused with INVALID_ARGUMENT.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { ExtraDnsNames } from '../../src/identity/extra-dns-names.js';
import { buildCsrForNames } from '../../src/pki/csr-for-names.js';
import { TrustDomain } from '../../src/pki/names.js';
import { GrpcStatus } from '../../proxy/grpc/grpc-channel.js';
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';

const SVC = 'lanyard-injector.lanyard.svc';
const td = new TrustDomain();
let h: IdentityHarness;

beforeAll(async () => {
  h = await startIdentity({ extraDnsNames: ExtraDnsNames.parse(`lanyard-injector=${SVC}`, td) });
});
afterAll(() => h?.stop());

async function certify(ns: string, sa: string, names: (identity: string) => string[]) {
  const identity = td.identity({ namespace: ns, serviceAccount: sa });
  const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const csr = buildCsrForNames(names(identity), kp.privateKey, kp.publicKey);
  return h.client().certify(identity, await h.tokens.mint(ns, sa), csr);
}

test('ok/the allowed control-plane account gets its identity, the extra name and its SPIFFE ID', async () => {
  const res = await certify('lanyard', 'lanyard-injector', (id) => [id, SVC]);
  const leaf = new X509Certificate(res.leaf_certificate);
  expect(leaf.subjectAltName).toBe(`DNS:lanyard-injector.lanyard.serviceaccount.identity.lanyard.cluster.local, DNS:${SVC}, URI:spiffe://cluster.local/ns/lanyard/sa/lanyard-injector`);
  expect(leaf.verify(h.pki.issuerCert.publicKey)).toBe(true);
});

test.each([
  ['a workload asking for the injector\'s name', 'shop', 'web', (id: string) => [id, SVC]],
  ['the injector asking for a name not on the list', 'lanyard', 'lanyard-injector', (id: string) => [id, 'kubernetes.default.svc']],
  ['another control-plane account', 'lanyard', 'lanyard-discovery', (id: string) => [id, SVC]],
])('fail/%s is INVALID_ARGUMENT', async (_n, ns, sa, names) => {
  await expect(certify(ns, sa, names)).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, message: expect.stringContaining('DNS SANs must be') });
});
