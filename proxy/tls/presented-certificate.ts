/**
 * Which certificate a TLS peer presented, for the audit: its serial and the SHA-256
 * fingerprint of the certificate that signed it. Read once per handshake (a multiplexed
 * session's streams share their session's), never per stream or per chunk.
 *
 * A resumed TLS session carries the peer's leaf but not its chain, so the issuer of a leaf
 * seen in a full handshake is remembered (bounded) and used when the chain is absent.
 */
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';

export interface PresentedCertificate {
  serial: string | null;
  issuerFingerprint: string | null;
}

export const NOTHING_PRESENTED: PresentedCertificate = { serial: null, issuerFingerprint: null };

const MAX_REMEMBERED = 4096;
const issuerOfLeaf = new Map<string, string>();

/** From a peer certificate read with `getPeerCertificate(true)`. */
export function presentedFrom(cert: PeerCertificate | DetailedPeerCertificate | undefined): PresentedCertificate {
  if (!cert || !cert.serialNumber) return NOTHING_PRESENTED;
  const issuer = (cert as Partial<DetailedPeerCertificate>).issuerCertificate;
  let issuerFingerprint = issuer && issuer !== cert && issuer.fingerprint256 ? issuer.fingerprint256 : null;
  if (issuerFingerprint) remember(cert.fingerprint256, issuerFingerprint);
  else issuerFingerprint = issuerOfLeaf.get(cert.fingerprint256) ?? null;
  return { serial: cert.serialNumber.toUpperCase(), issuerFingerprint };
}

export function presentedBy(tls: TLSSocket): PresentedCertificate {
  return presentedFrom(tls.getPeerCertificate(true));
}

function remember(leaf: string, issuer: string): void {
  if (issuerOfLeaf.has(leaf)) return;
  if (issuerOfLeaf.size >= MAX_REMEMBERED) issuerOfLeaf.delete(issuerOfLeaf.keys().next().value as string);
  issuerOfLeaf.set(leaf, issuer);
}
