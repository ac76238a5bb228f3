/**
 * The identity a verified peer certificate carries: its DNS SAN (the workload identity) and
 * its SPIFFE URI SAN. Node reports SANs as one string, e.g.
 * "DNS:web.default.serviceaccount.identity.lanyard.cluster.local, URI:spiffe://cluster.local/ns/default/sa/web".
 */
import { isDnsLabel, parseSpiffeId } from '../../src/pki/names.js';

export interface PeerNames {
  dns: string[];
  spiffe: string | null;
}

export function parseSubjectAltName(san: string | undefined): PeerNames {
  const out: PeerNames = { dns: [], spiffe: null };
  if (!san) return out;
  for (const part of san.split(', ')) {
    if (part.startsWith('DNS:')) out.dns.push(part.slice(4));
    else if (part.startsWith('URI:spiffe://') && !out.spiffe) out.spiffe = part.slice(4);
  }
  return out;
}

/** What a verified peer certificate proves: its identity, or why it must be refused. */
export type PeerProof = { identity: string | null; spiffeId: string | null } | { refusal: string };

/** `<sa>.<ns>.serviceaccount.identity.…`: a DNS SAN that names a workload identity. */
const WORKLOAD_NAME = /^[^.]+\.[^.]+\.serviceaccount\.identity\./i;

/**
 * The identity a peer certificate (already verified to the anchors) proves. Refused:
 * - a CA certificate (basicConstraints CA:TRUE): the SPIFFE X509-SVID rules forbid it as a
 *   leaf, and a CA key could mint any identity below it;
 * - more than one URI SAN (an X509-SVID has exactly one);
 * - a workload DNS identity and a SPIFFE ID that name different service accounts (or trust
 *   domains). Lanyard issues the two consistently, so a mismatch means another issuer;
 *   accepting it would let one certificate match rules written for either name.
 * Precedence: the identity is the first DNS SAN of workload form; other DNS SANs (localhost,
 * service names) name no workload and are ignored when a SPIFFE ID is present, which is then
 * the identity; a certificate with neither is named by its first DNS SAN, as Linkerd does.
 */
export function provePeer(cert: { subjectaltname?: string; ca?: boolean }): PeerProof {
  if (cert.ca === true) return { refusal: 'a CA certificate (basicConstraints CA:TRUE) is not a workload certificate' };
  if ((cert.subjectaltname ?? '').split(', ').filter((p) => p.startsWith('URI:')).length > 1) return { refusal: 'more than one URI SAN (an X509-SVID has exactly one)' };
  const names = parseSubjectAltName(cert.subjectaltname);
  const workload = names.dns.filter((d) => WORKLOAD_NAME.test(d));
  if (names.spiffe === null) return { identity: workload[0] ?? names.dns[0] ?? null, spiffeId: null };
  for (const dns of workload) {
    if (!namesSameAccount(dns, names.spiffe)) return { refusal: `DNS identity ${dns} and SPIFFE ID ${names.spiffe} name different service accounts` };
  }
  return { identity: workload[0] ?? null, spiffeId: names.spiffe };
}

/**
 * `<sa>.<ns>.serviceaccount.identity.<rest>` and `spiffe://<td>/ns/<ns>/sa/<sa>` agree when the
 * account matches and `<rest>` is the trust domain, or ends with it: Lanyard's and Linkerd's
 * `<control-ns>.<td>` (spiffe://cluster.local for ….lanyard.cluster.local), or a trust domain
 * that already includes it (spiffe://mesh.cluster.local for ….mesh.cluster.local).
 */
function namesSameAccount(dns: string, spiffe: string): boolean {
  const ref = parseSpiffeId(spiffe);
  if (!ref) return false;
  const prefix = `${ref.serviceAccount}.${ref.namespace}.serviceaccount.identity.`;
  const name = dns.toLowerCase();
  if (!name.startsWith(prefix)) return false;
  const rest = name.slice(prefix.length);
  const td = ref.trustDomain.toLowerCase();
  return rest === td || (rest.endsWith(`.${td}`) && isDnsLabel(rest.slice(0, -td.length - 1)));
}
