/**
 * The TLS material new connections use: the workload certificate and key, the trust
 * anchors, and the secure contexts built from them. Replaced as a whole when the certificate
 * rotates or the anchors change, so a new connection always sees one consistent set and an
 * established one keeps the context it was made with.
 */
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import { createHash, type X509Certificate } from 'node:crypto';
import { EventEmitter } from 'node:events';

export interface WorkloadCertificate {
  /** PEM of the private key (never leaves the process unless an identity dir is configured). */
  keyPem: string;
  /** PEM leaf followed by the intermediates. */
  chainPem: string;
  leaf: X509Certificate;
  intermediates: X509Certificate[];
  identity: string;
  spiffeId: string | null;
  notBefore: Date;
  notAfter: Date;
  serial: string;
  /** When it was installed. */
  installedAt: Date;
}

export interface TlsMaterial {
  certificate: WorkloadCertificate;
  anchorsPem: string;
  /** Options for inbound TLS termination (tls.Server#setSecureContext). */
  serverOptions: SecureContextOptions;
  /** Context for outbound TLS (tls.connect({ secureContext })). */
  clientContext: SecureContext;
  /** Bumps on every change; client session caches are keyed by it. */
  generation: number;
}

// TLS 1.3 only between proxies. The suites are OpenSSL's TLS 1.3 defaults, listed so a
// change of library default cannot silently widen them.
const TLS_OPTIONS = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3', ecdhCurve: 'X25519:P-256' } as const;

export class TlsState extends EventEmitter {
  private material: TlsMaterial | null = null;
  private generation = 0;
  private anchorsPem: string;

  constructor(anchorsPem: string) {
    super();
    this.anchorsPem = anchorsPem;
  }

  current(): TlsMaterial | null {
    return this.material;
  }

  anchors(): string {
    return this.anchorsPem;
  }

  installCertificate(certificate: WorkloadCertificate): void {
    this.publish(certificate, this.anchorsPem);
  }

  /** New trust anchors; contexts are rebuilt if a certificate is installed. */
  setAnchors(anchorsPem: string): void {
    this.anchorsPem = anchorsPem;
    if (this.material) this.publish(this.material.certificate, anchorsPem);
    else this.emit('anchors', anchorsPem);
  }

  private publish(certificate: WorkloadCertificate, anchorsPem: string): void {
    const base = {
      key: certificate.keyPem,
      cert: certificate.chainPem,
      ca: anchorsPem,
      // Required by OpenSSL to resume sessions that carried a client certificate.
      sessionIdContext: createHash('sha256').update(certificate.identity).digest('hex').slice(0, 32),
      ...TLS_OPTIONS,
    };
    this.material = {
      certificate,
      anchorsPem,
      serverOptions: base,
      clientContext: createSecureContext(base),
      generation: ++this.generation,
    };
    this.emit('change', this.material);
  }
}

/**
 * Why new mTLS is refused while the workload certificate has expired, or null while it is
 * valid. Peers would refuse the certificate anyway; refusing first names the cause in the
 * audit line of this proxy, not only as a handshake error in the peer's.
 */
export function expiredReason(cert: Pick<WorkloadCertificate, 'serial' | 'notAfter'>, now = Date.now()): string | null {
  if (cert.notAfter.getTime() > now) return null;
  return `the local certificate ${cert.serial} expired at ${cert.notAfter.toISOString()}: new mTLS is refused until it is renewed (Certify is retried every second)`;
}
