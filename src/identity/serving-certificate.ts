/**
 * The identity service's own TLS certificate: issued from the current issuer for
 * `lanyard-identity.<control-ns>.serviceaccount.identity.<control-ns>.<trust-domain>`,
 * renewed at 70% of its lifetime and whenever the issuer changes, so proxies that verify
 * the service against the trust anchors keep working across issuer rotations.
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import type { Logger } from '../telemetry/logger.js';
import { ecPublicKeyOf, type EcPublicKey } from '../pki/ec-key.js';
import { encodePem } from '../pki/pem.js';
import type { ServiceAccountRef } from '../pki/names.js';
import type { CertificateAuthority } from './certificate-authority.js';
import type { IssuerStore } from './issuer-store.js';
import type { ReloadableServerCredentials } from '../serving/reloadable-server-credentials.js';

export interface ServingCertificateConfig {
  ca: CertificateAuthority;
  issuers: IssuerStore;
  credentials: ReloadableServerCredentials;
  /** Default { namespace: <control-ns>, serviceAccount: 'lanyard-identity' }. */
  account: ServiceAccountRef;
  logger: Logger;
  /** Retry period while no issuer is available. Default 5s. */
  retryMs?: number;
  clock?: () => number;
}

export class ServingCertificate {
  private readonly key: KeyObject;
  private readonly publicKey: EcPublicKey;
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private notAfter: Date | null = null;
  private stopped = false;

  constructor(private readonly cfg: ServingCertificateConfig) {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.key = kp.privateKey;
    this.publicKey = ecPublicKeyOf(kp.publicKey);
  }

  /** Issues the first certificate (or schedules retries until an issuer appears). */
  async start(): Promise<void> {
    this.unsubscribe = this.cfg.issuers.onChange(() => void this.renew());
    await this.renew();
  }

  stop(): void {
    this.stopped = true;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  get expiresAt(): Date | null {
    return this.notAfter;
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    try {
      const cert = await this.cfg.ca.issueLocal(this.cfg.account, this.publicKey);
      const chainPem = [cert.leaf, ...cert.chain].map((d) => encodePem('CERTIFICATE', d)).join('');
      this.cfg.credentials.update({ key: this.key.export({ format: 'pem', type: 'pkcs8' }), cert: chainPem });
      this.notAfter = cert.notAfter;
      const now = (this.cfg.clock ?? Date.now)();
      this.schedule(Math.max(1000, (cert.notAfter.getTime() - now) * 0.7));
      this.cfg.logger.info({ event: 'serving_certificate', serial: cert.serial, not_after: cert.notAfter.toISOString() }, 'serving certificate issued');
    } catch (e) {
      this.cfg.logger.warn({ event: 'serving_certificate', reason: (e as Error).message }, 'cannot issue the serving certificate yet; retrying');
      this.schedule(this.cfg.retryMs ?? 5000);
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.renew(), Math.min(ms, 2 ** 31 - 1));
    this.timer.unref();
  }
}
