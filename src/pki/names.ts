/**
 * Naming rules for workload identities, in one place.
 *
 * A workload identity is the DNS-like name
 *   <sa>.<ns>.serviceaccount.identity.<control-namespace>.<trust-domain>
 * (Linkerd's format) and, in the leaf, also the SPIFFE ID
 *   spiffe://<trust-domain>/ns/<ns>/sa/<sa>.
 */

const LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** A Kubernetes DNS-1123 label: lower-case alphanumerics and '-', at most 63 characters. */
export function isDnsLabel(s: string): boolean {
  return LABEL.test(s);
}

/** A DNS name of DNS-1123 labels, at most 253 characters. */
export function isDnsName(s: string): boolean {
  return s.length > 0 && s.length <= 253 && s.split('.').every(isDnsLabel);
}

export interface ServiceAccountRef {
  namespace: string;
  serviceAccount: string;
}

export class TrustDomain {
  private readonly suffix: string;

  /**
   * @param domain the trust domain (default `cluster.local`)
   * @param controlNamespace the control plane's namespace (default `lanyard`)
   */
  constructor(
    readonly domain = 'cluster.local',
    readonly controlNamespace = 'lanyard',
  ) {
    if (!isDnsName(domain)) throw new Error(`trust domain ${JSON.stringify(domain)} is not a DNS name of lower-case labels`);
    if (!isDnsLabel(controlNamespace)) {
      throw new Error(`control-plane namespace ${JSON.stringify(controlNamespace)} is not a DNS-1123 label`);
    }
    this.suffix = `.serviceaccount.identity.${controlNamespace}.${domain}`;
  }

  identity(ref: ServiceAccountRef): string {
    return `${ref.serviceAccount}.${ref.namespace}${this.suffix}`;
  }

  spiffeId(ref: ServiceAccountRef): string {
    return `spiffe://${this.domain}/ns/${ref.namespace}/sa/${ref.serviceAccount}`;
  }

  /** The service account an identity names, or null if it is not one of this trust domain's. */
  parse(identity: string): ServiceAccountRef | null {
    if (!identity.endsWith(this.suffix) || identity.length > 253) return null;
    const parts = identity.slice(0, -this.suffix.length).split('.');
    if (parts.length !== 2 || !isDnsLabel(parts[0]) || !isDnsLabel(parts[1])) return null;
    return { serviceAccount: parts[0], namespace: parts[1] };
  }
}

/** Parses `system:serviceaccount:<ns>:<sa>`; null unless both parts are DNS-1123 labels. */
export function parseServiceAccountUsername(username: string): ServiceAccountRef | null {
  const parts = username.split(':');
  if (parts.length !== 4 || parts[0] !== 'system' || parts[1] !== 'serviceaccount') return null;
  if (!isDnsLabel(parts[2]) || !isDnsLabel(parts[3])) return null;
  return { namespace: parts[2], serviceAccount: parts[3] };
}

/** Parses `spiffe://<td>/ns/<ns>/sa/<sa>`. */
export function parseSpiffeId(uri: string): (ServiceAccountRef & { trustDomain: string }) | null {
  const m = /^spiffe:\/\/([^/]+)\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(uri);
  if (!m || !isDnsLabel(m[2]) || !isDnsLabel(m[3])) return null;
  return { trustDomain: m[1], namespace: m[2], serviceAccount: m[3] };
}
