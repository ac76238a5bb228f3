/**
 * A control-plane component's serving certificate (the injector's, discovery's), obtained
 * through Certify like a workload's and kept fresh: the component presents its own projected
 * service-account token and a CSR for its identity (plus, for the injector, its Service name),
 * so no issuer key is ever mounted outside the identity service. It renews at 70% of the
 * lifetime, retries with capped backoff while the current certificate is still valid, and
 * hands every new certificate to `onCertificate` (the server swaps its secure context: open
 * connections keep theirs, no restart). Linkerd's injector certificate expiring silently
 * (#5551, #5888) is what this prevents; `expiresAt` is exported as a metric.
 */
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { buildCsrForNames } from '../pki/csr-for-names.js';
import { encodePem } from '../pki/pem.js';
import { TrustBundle } from '../pki/trust-bundle.js';
import type { Logger } from '../telemetry/logger.js';
import { timerDelay } from '../util/duration.js';

export interface CertifyCall {
  certify(identity: string, token: Buffer, csr: Buffer): Promise<{ leaf_certificate: Buffer; intermediate_certificates: Buffer[] }>;
}

export interface ServingKeyPair {
  keyPem: string;
  /** Leaf then intermediates, PEM. */
  chainPem: string;
  notAfter: Date;
  serial: string;
}

export interface CertifiedServingCertificateConfig {
  /** The Certify client; replaced by setClient() when the anchors change. */
  client: CertifyCall;
  identity: string;
  /** Names after the identity, e.g. `lanyard-injector.lanyard.svc`; none for discovery. */
  extraDnsNames: readonly string[];
  tokenFile: string;
  /** The anchors a returned chain must verify to (replaced by setTrustAnchors()). */
  trustAnchorsPem: string;
  onCertificate: (pair: ServingKeyPair) => void;
  logger: Logger;
  /** First retry delay; doubles up to maxBackoffMs. Default 1s. */
  minBackoffMs?: number;
  /** Default 30s. */
  maxBackoffMs?: number;
  clock?: () => number;
}

export class CertifiedServingCertificate {
  private readonly key: KeyObject;
  private readonly csr: Buffer;
  private timer: NodeJS.Timeout | null = null;
  private backoffMs: number;
  private current: ServingKeyPair | null = null;
  private stopped = false;
  private client: CertifyCall;
  private anchors: string;
  private lastError: string | null = 'no certificate yet';
  private readonly firstCertificate: Promise<void>;
  private resolveFirst!: () => void;

  constructor(private readonly cfg: CertifiedServingCertificateConfig) {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.key = kp.privateKey;
    this.csr = buildCsrForNames([cfg.identity, ...cfg.extraDnsNames], kp.privateKey, kp.publicKey);
    this.backoffMs = cfg.minBackoffMs ?? 1000;
    this.client = cfg.client;
    this.anchors = cfg.trustAnchorsPem;
    this.firstCertificate = new Promise((resolve) => (this.resolveFirst = resolve));
  }

  /** Resolves once a first certificate has been handed over. */
  get ready(): Promise<void> {
    return this.firstCertificate;
  }

  get certificate(): ServingKeyPair | null {
    return this.current;
  }

  /** Why the last attempt failed, or null after a success. */
  get failure(): string | null {
    return this.lastError;
  }

  start(): void {
    void this.renew();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  /** New anchors (a bundle rotation): chains are checked against them from now on, and the certificate is renewed. */
  setTrustAnchors(pem: string, client: CertifyCall): void {
    this.anchors = pem;
    this.client = client;
    this.schedule(0);
  }

  private async renew(): Promise<void> {
    if (this.stopped) return;
    try {
      const token = (await readFile(this.cfg.tokenFile)).subarray(0);
      const res = await this.client.certify(this.cfg.identity, token, this.csr);
      const pair = this.accept(res.leaf_certificate, res.intermediate_certificates);
      this.current = pair;
      this.lastError = null;
      this.backoffMs = this.cfg.minBackoffMs ?? 1000;
      this.cfg.onCertificate(pair);
      this.resolveFirst();
      const now = this.now();
      this.schedule(Math.max(1000, (pair.notAfter.getTime() - now) * 0.7));
      this.cfg.logger.info({ event: 'serving_certificate', serial: pair.serial, not_after: pair.notAfter.toISOString() }, 'serving certificate issued through Certify');
    } catch (e) {
      this.lastError = (e as Error).message;
      const delay = this.backoffMs;
      this.backoffMs = Math.min(this.backoffMs * 2, this.cfg.maxBackoffMs ?? 30_000);
      const valid = this.current && this.current.notAfter.getTime() > this.now();
      this.cfg.logger[valid ? 'warn' : 'error']({ event: 'serving_certificate', reason: this.lastError, retry_ms: delay }, 'cannot renew the serving certificate; retrying');
      this.schedule(delay);
    }
  }

  /** The chain must verify to the anchors, name what we asked for and hold our key. */
  private accept(leafDer: Buffer, intermediates: Buffer[]): ServingKeyPair {
    const chain = [leafDer, ...intermediates].map((d) => new X509Certificate(d));
    TrustBundle.fromPem(this.anchors).verify(chain, new Date(this.now()));
    const leaf = chain[0];
    const names = (leaf.subjectAltName ?? '').split(', ').filter((n) => n.startsWith('DNS:')).map((n) => n.slice(4));
    for (const want of [this.cfg.identity, ...this.cfg.extraDnsNames]) {
      if (!names.includes(want)) throw new Error(`the issued certificate lacks DNS name ${want} (has ${names.join(', ')})`);
    }
    if (!leaf.checkPrivateKey(this.key)) throw new Error('the issued certificate is not for our key');
    return {
      keyPem: this.key.export({ format: 'pem', type: 'pkcs8' }).toString(),
      chainPem: [leafDer, ...intermediates].map((d) => encodePem('CERTIFICATE', d)).join(''),
      notAfter: new Date(leaf.validTo),
      serial: leaf.serialNumber,
    };
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.renew(), timerDelay(ms));
    this.timer.unref();
  }

  private now(): number {
    return (this.cfg.clock ?? Date.now)();
  }
}
