/** The allow-list of extra DNS names for control-plane identities, and the CSR check that uses it. */
import { generateKeyPairSync } from 'node:crypto';
import { ExtraDnsNames, checkCsrNamesAllowing } from '../../../src/identity/extra-dns-names.js';
import { buildCsr, parseCsr } from '../../../src/pki/csr.js';
import { buildCsrForNames } from '../../../src/pki/csr-for-names.js';
import { TrustDomain } from '../../../src/pki/names.js';
import { ValueError } from '../../../src/util/value-error.js';

const td = new TrustDomain();
const INJECTOR = 'lanyard-injector.lanyard.serviceaccount.identity.lanyard.cluster.local';
const SVC = 'lanyard-injector.lanyard.svc';
const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const csrFor = (names: string[]) => parseCsr(buildCsrForNames(names, kp.privateKey, kp.publicKey));

describe('ExtraDnsNames.parse', () => {
  test('ok/entries for control-plane service accounts, separated by ; or spaces, names merged', () => {
    const x = ExtraDnsNames.parse(`lanyard-injector=${SVC},${SVC}.cluster.local; lanyard-discovery=d.lanyard.svc lanyard-injector=${SVC}`, td);
    expect(x.allowedFor(INJECTOR)).toEqual([SVC, `${SVC}.cluster.local`]);
    expect(x.allowedFor('lanyard-discovery.lanyard.serviceaccount.identity.lanyard.cluster.local')).toEqual(['d.lanyard.svc']);
    expect(x.allowedFor('web.default.serviceaccount.identity.lanyard.cluster.local')).toEqual([]);
    expect(x.size).toBe(2);
  });

  test.each([
    ['no =', 'lanyard-injector', /expected <service-account>=<dns-name>/],
    ['bad account', 'Bad_SA=x.svc', /expected <service-account>=/],
    ['no names', 'lanyard-injector=', /no DNS name/],
    ['bad name', 'lanyard-injector=UPPER.svc', /not a DNS name/],
    ['a workload identity as extra name', `lanyard-injector=web.default.serviceaccount.identity.lanyard.cluster.local`, /looks like a workload identity/],
  ])('fail/%s', (_n, text, re) => {
    expect(() => ExtraDnsNames.parse(text, td)).toThrow(ValueError);
    expect(() => ExtraDnsNames.parse(text, td)).toThrow(re);
  });
});

describe('checkCsrNamesAllowing', () => {
  test('ok/the identity alone needs no allow-list', () => {
    expect(checkCsrNamesAllowing(parseCsr(buildCsr(INJECTOR, kp.privateKey, kp.publicKey)), INJECTOR, [])).toEqual([]);
  });

  test('ok/allowed extra names come back from the allow-list, in its order', () => {
    const allowed = [SVC, `${SVC}.cluster.local`];
    expect(checkCsrNamesAllowing(csrFor([INJECTOR, `${SVC}.cluster.local`, SVC]), INJECTOR, allowed)).toEqual(allowed);
  });

  test.each([
    ['an extra name with no allow-list', [INJECTOR, SVC], [], 'ERR_CSR_SAN_MISMATCH'],
    ['a name not on the list', [INJECTOR, 'evil.example'], [SVC], 'ERR_CSR_SAN_MISMATCH'],
    ['the identity not first', [SVC, INJECTOR], [SVC], 'ERR_CSR_SAN_MISMATCH'],
    ['a duplicate', [INJECTOR, SVC, SVC], [SVC], 'ERR_CSR_SAN_MISMATCH'],
    ['only the extra name', [SVC], [SVC], 'ERR_CSR_SAN_MISMATCH'],
  ])('fail/%s', (_n, names, allowed, code) => {
    expect(() => checkCsrNamesAllowing(csrFor(names as string[]), INJECTOR, allowed as string[])).toThrow(expect.objectContaining({ code }));
  });
});
