/**
 * The identity a verified peer certificate carries: its DNS SAN (the workload identity) and
 * its SPIFFE URI SAN. Node reports SANs as one string, e.g.
 * "DNS:web.default.serviceaccount.identity.lanyard.cluster.local, URI:spiffe://cluster.local/ns/default/sa/web".
 */

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
