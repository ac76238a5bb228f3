/**
 * What `/identity` on the admin port says (CONTRACTS.md): the certificate in use, where it
 * chains, the anchors and their bundle fingerprint, the proxy's clock and its skew from the
 * identity service. `lanyard check` and `lanyard certs rotate` read it; readers tolerate
 * extra fields.
 */
import { X509Certificate } from 'node:crypto';
import { bundleFingerprint } from '../../src/pki/bundle-fingerprint.js';
import { TrustBundle } from '../../src/pki/trust-bundle.js';
import type { TlsState, WorkloadCertificate } from '../tls/tls-state.js';
import { issuerFingerprintOf } from './workload-identity.js';

export interface IdentityReportInput {
  localIdentity: string;
  tls: TlsState;
  lastFailure: string | null;
  ready: () => boolean;
  /** The identity service's clock minus ours, ms, or null before the first status. */
  skewMs: number | null;
  /** How the proxy learns of issuer changes: `stream`, `connecting`, `periodic-certify`, or `static` (certificate files). */
  issuerStatus: string;
}

export function describeIdentity(i: IdentityReportInput): Record<string, unknown> {
  const m = i.tls.current();
  const anchorsPem = i.tls.anchors();
  const anchors = splitPem(anchorsPem).map((pem) => {
    const c = new X509Certificate(pem);
    return { subject: oneLine(c.subject), fingerprint_sha256: c.fingerprint256, not_after: new Date(Date.parse(c.validTo)).toISOString() };
  });
  const common = {
    anchors,
    bundle_fingerprint: safe(() => bundleFingerprint(anchorsPem)),
    now: new Date().toISOString(),
    identity_service_skew_ms: i.skewMs,
    issuer_status: i.issuerStatus,
    last_error: i.lastFailure,
  };
  if (!m) return { local_identity: i.localIdentity, ready: false, ...common };
  const c = m.certificate;
  return {
    local_identity: c.identity,
    spiffe_id: c.spiffeId,
    ready: i.ready(),
    serial: c.serial,
    not_before: c.notBefore.toISOString(),
    not_after: c.notAfter.toISOString(),
    installed_at: c.installedAt.toISOString(),
    chain: [c.leaf, ...c.intermediates].map((x) => ({ subject: oneLine(x.subject) || '(empty)', issuer: oneLine(x.issuer), fingerprint_sha256: x.fingerprint256 })),
    issuer_fingerprint_sha256: issuerFingerprintOf(c, anchorsPem),
    chains_to: chainsTo(c, anchorsPem),
    ...common,
  };
}

/**
 * The anchors the leaf's chain verifies to, each tried on its own, judged within the leaf's
 * validity (an expired leaf still says where it came from).
 */
function chainsTo(c: WorkloadCertificate, anchorsPem: string): string[] {
  const bundle = safe(() => TrustBundle.fromPem(anchorsPem));
  return (bundle?.anchors ?? []).filter((a) => chainProblem(c, new TrustBundle([a])) === null).map((a) => a.fingerprint256);
}

/** Why `bundle` does not verify the leaf's chain (judged within the leaf's validity), or null when it does. */
export function chainProblem(c: Pick<WorkloadCertificate, 'leaf' | 'intermediates' | 'notBefore' | 'notAfter'>, bundle: TrustBundle): string | null {
  const at = new Date(Math.min(Math.max(Date.now(), c.notBefore.getTime()), c.notAfter.getTime()));
  try {
    bundle.verify([c.leaf, ...c.intermediates], at);
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

function safe<T>(f: () => T): T | null {
  try {
    return f();
  } catch {
    return null;
  }
}

function splitPem(pem: string): string[] {
  return pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

export const oneLine = (dn: string | undefined): string => (dn ?? '').replace(/\n/g, ',');
