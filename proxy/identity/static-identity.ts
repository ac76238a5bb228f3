/**
 * A workload certificate and key from files instead of Certify — for operators who issue
 * certificates another way (cert-manager, SPIRE) and for benchmarks against other proxies.
 * The pair is checked like a Certify answer (chain to the anchors, local identity in the
 * SANs, key matches, current) and reloaded when the files change; a bad pair is refused and
 * the current one kept.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { certificatesFromPem } from '../../src/pki/pem.js';
import { TrustBundle } from '../../src/pki/trust-bundle.js';
import type { Logger } from '../../src/telemetry/logger.js';
import { WatchedFile } from '../../src/util/watched-file.js';
import type { ProxyMetrics } from '../metrics.js';
import { parseSubjectAltName } from '../tls/peer-identity.js';
import type { TlsState, WorkloadCertificate } from '../tls/tls-state.js';
import type { IdentitySource, ReissueCause } from './identity-source.js';

export interface StaticIdentityConfig {
  identity: string;
  certFile: string;
  keyFile: string;
  tls: TlsState;
  /** Default 5s. */
  pollIntervalMs?: number;
  logger: Logger;
  metrics?: ProxyMetrics;
}

type Pair = { certPem: string; keyPem: string };

export class StaticIdentity implements IdentitySource {
  readonly ready: Promise<void>;
  private resolveReady!: () => void;
  private readonly watched: WatchedFile<Pair, WorkloadCertificate>;

  constructor(private readonly cfg: StaticIdentityConfig) {
    this.ready = new Promise((r) => (this.resolveReady = r));
    this.watched = new WatchedFile({
      files: [cfg.certFile, cfg.keyFile],
      read: async () => {
        const [certPem, keyPem] = await Promise.all([readFile(cfg.certFile, 'utf8'), readFile(cfg.keyFile, 'utf8')]);
        return { certPem, keyPem };
      },
      check: (pair) => this.check(pair.certPem, pair.keyPem),
      name: `${cfg.certFile} and ${cfg.keyFile}`,
      pollIntervalMs: cfg.pollIntervalMs ?? 5_000,
      report: { loaded: (cert) => this.installed(cert), failed: (f) => this.refused(f.error.message) },
    });
  }

  get lastFailure(): string | null {
    return this.watched.lastFailure()?.error.message ?? null;
  }

  start(): void {
    void this.watched.start();
  }

  stop(): void {
    void this.watched.close();
  }

  /** Checks the files again even if unchanged: the anchors they are checked against may have moved. */
  refreshNow(): void {
    void this.watched.reload({ force: true });
  }

  /** Files are what they are: re-checking them is the only re-issue there is. */
  reissue(_cause: ReissueCause): void {
    this.cfg.metrics?.reissued('files-changed');
    this.refreshNow();
  }

  anchorsChanged(): void {
    this.refreshNow();
  }

  private installed(cert: WorkloadCertificate): void {
    this.cfg.tls.installCertificate(cert);
    this.cfg.metrics?.identityRefreshed(cert, 'success');
    this.cfg.logger.info(
      { event: 'identity_refreshed', identity: cert.identity, serial: cert.serial, not_after: cert.notAfter.toISOString(), source: this.cfg.certFile },
      'certificate installed from file',
    );
    this.resolveReady();
  }

  private refused(reason: string): void {
    this.cfg.metrics?.identityRefreshed(null, 'failure');
    this.cfg.logger.error({ event: 'identity_refresh_failed', source: this.cfg.certFile, error: reason }, 'certificate files refused');
  }

  private check(certPem: string, keyPem: string): WorkloadCertificate {
    const [leaf, ...intermediates] = certificatesFromPem(certPem, this.cfg.certFile).map((d) => new X509Certificate(d));
    const key = createPrivateKey(keyPem);
    if (!leaf.checkPrivateKey(key)) throw new Error(`${this.cfg.keyFile} does not match ${this.cfg.certFile}`);
    const names = parseSubjectAltName(leaf.subjectAltName);
    if (!names.dns.includes(this.cfg.identity)) throw new Error(`${this.cfg.certFile} names ${names.dns.join(', ') || 'no DNS identity'}, not ${this.cfg.identity}`);
    const now = new Date();
    TrustBundle.fromPem(this.cfg.tls.anchors(), 'trust anchors').verify([leaf, ...intermediates], now);
    return {
      keyPem: key.export({ format: 'pem', type: 'pkcs8' }).toString(),
      chainPem: certPem,
      leaf,
      intermediates,
      identity: this.cfg.identity,
      spiffeId: names.spiffe,
      notBefore: new Date(Date.parse(leaf.validFrom)),
      notAfter: new Date(Date.parse(leaf.validTo)),
      serial: leaf.serialNumber,
      installedAt: now,
    };
  }
}
