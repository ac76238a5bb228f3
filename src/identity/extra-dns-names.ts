/**
 * Extra DNS names a control-plane component may have in its certificate, beside its
 * workload identity. The injector's webhook is called by the API server at
 * `lanyard-injector.<control-ns>.svc`, so its serving certificate must carry that name; it
 * gets one through Certify like any workload (its own service-account token, a CSR), and this
 * explicit, operator-configured list is what lets the identity service sign the extra name.
 * No issuer key is ever mounted outside the identity service.
 *
 * The list is deliberately narrow: only service accounts of the control-plane namespace may
 * have extra names, and an extra name may not be a workload identity, so no entry can let
 * one workload pass for another.
 *
 *   --extra-dns-names 'lanyard-injector=lanyard-injector.lanyard.svc,lanyard-injector.lanyard.svc.cluster.local'
 *
 * Entries are separated by `;` or white space. Pure; no I/O.
 */
import { checkCsrNames, type ParsedCsr } from '../pki/csr.js';
import { PkiError } from '../pki/errors.js';
import { isDnsLabel, isDnsName, type TrustDomain } from '../pki/names.js';
import { quote, ValueError } from '../util/value-error.js';

export class ExtraDnsNames {
  private constructor(private readonly byIdentity: ReadonlyMap<string, readonly string[]>) {}

  static readonly none = new ExtraDnsNames(new Map());

  /** Parses `<sa>=<dns>[,<dns>...]` entries for service accounts of the control-plane namespace. */
  static parse(text: string, td: TrustDomain): ExtraDnsNames {
    const map = new Map<string, string[]>();
    for (const entry of text.split(/[;\s]+/).filter(Boolean)) {
      const eq = entry.indexOf('=');
      const sa = eq < 0 ? '' : entry.slice(0, eq);
      if (!isDnsLabel(sa)) throw new ValueError(`expected <service-account>=<dns-name>[,<dns-name>...], got ${quote(entry)}`);
      const identity = td.identity({ namespace: td.controlNamespace, serviceAccount: sa });
      const names = entry.slice(eq + 1).split(',').filter(Boolean);
      if (!names.length) throw new ValueError(`${sa}: no DNS name after "="`);
      for (const n of names) {
        if (!isDnsName(n)) throw new ValueError(`${sa}: ${quote(n)} is not a DNS name of lower-case labels`);
        if (n.includes('.serviceaccount.identity.')) throw new ValueError(`${sa}: ${quote(n)} looks like a workload identity; extra names must be service names`);
      }
      map.set(identity, [...new Set([...(map.get(identity) ?? []), ...names])]);
    }
    return new ExtraDnsNames(map);
  }

  allowedFor(identity: string): readonly string[] {
    return this.byIdentity.get(identity) ?? [];
  }

  get size(): number {
    return this.byIdentity.size;
  }
}

/**
 * checkCsrNames, except that the CSR may also ask for names `allowed` lists (after the
 * identity, which must come first). Returns the extra names to sign, taken from `allowed`
 * (the operator's text), never from the request's bytes.
 */
export function checkCsrNamesAllowing(csr: ParsedCsr, identity: string, allowed: readonly string[]): string[] {
  const [first, ...rest] = csr.sans.dns;
  if (!allowed.length || !rest.length) {
    checkCsrNames(csr, identity);
    return [];
  }
  if (first !== identity || new Set(rest).size !== rest.length || rest.some((n) => !allowed.includes(n))) {
    throw new PkiError(
      'ERR_CSR_SAN_MISMATCH',
      `certificate_signing_request: DNS SANs must be [${identity}] followed by names from [${allowed.join(', ')}], found [${csr.sans.dns.join(', ')}]`,
    );
  }
  // The remaining rules (no other SAN kinds, Common Name) are checkCsrNames' own.
  checkCsrNames({ ...csr, sans: { ...csr.sans, dns: [identity] } }, identity);
  return allowed.filter((n) => rest.includes(n));
}
