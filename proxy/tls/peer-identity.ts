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

/**
 * The identity a peer certificate (already verified to the anchors) proves. Refused:
 * - a CA certificate (basicConstraints CA:TRUE): the SPIFFE X509-SVID rules forbid it as a
 *   leaf, and a CA key could mint any identity below it;
 * - a certificate whose DNS identity and SPIFFE ID name different service accounts. Lanyard
 *   issues the two consistently, so a mismatch means another issuer; accepting it would let
 *   one certificate match rules written for either name. A certificate with only one of
 *   them (Linkerd's DNS-only leaves, a SPIFFE-only SVID) proves that one.
 */
export function provePeer(cert: { subjectaltname?: string; ca?: boolean }): PeerProof {
  if (cert.ca === true) return { refusal: 'a CA certificate (basicConstraints CA:TRUE) is not a workload certificate' };
  const names = parseSubjectAltName(cert.subjectaltname);
  const identity = names.dns[0] ?? null;
  if ((cert.subjectaltname ?? '').split(', ').filter((p) => p.startsWith('URI:')).length > 1) return { refusal: 'more than one URI SAN (an X509-SVID has exactly one)' };
  if (names.spiffe !== null) {
    for (const dns of names.dns) {
      if (!namesSameAccount(dns, names.spiffe)) return { refusal: `DNS identity ${dns} and SPIFFE ID ${names.spiffe} name different service accounts` };
    }
  }
  return { identity, spiffeId: names.spiffe };
}

/** `<sa>.<ns>.serviceaccount.identity.<control-ns>.<td>` and `spiffe://<td>/ns/<ns>/sa/<sa>` agree. */
function namesSameAccount(dns: string, spiffe: string): boolean {
  const ref = parseSpiffeId(spiffe);
  if (!ref) return false;
  const prefix = `${ref.serviceAccount}.${ref.namespace}.serviceaccount.identity.`;
  const suffix = `.${ref.trustDomain}`;
  const name = dns.toLowerCase();
  if (!name.startsWith(prefix) || !name.endsWith(suffix) || name.length <= prefix.length + suffix.length) return false;
  return isDnsLabel(name.slice(prefix.length, name.length - suffix.length)); // the control namespace
}
