/**
 * The proxy's identity client: an ECDSA P-256 key made in memory, a CSR whose only SAN is
 * the local identity, and a Certify call (token re-read every time) at start and then at 70%
 * of the certificate's remaining life. A response is installed only if its chain verifies
 * to the trust anchors, the leaf names the local identity, carries our key, and is current.
 * On failure the current certificate stays in use and the call is retried with capped,
 * jittered exponential backoff. Besides the renewal, a re-issue can be asked for at any time
 * (`reissue`): at once (the trust bundle no longer verifies the leaf) or at a random moment
 * within a window (the issuer changed: proxy/identity/issuer-watch.ts), never postponing an
 * attempt already due sooner.
 */
import { generateKeyPairSync, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildCsr } from '../../src/pki/csr.js';
import { encodePem } from '../../src/pki/pem.js';
import { TrustBundle } from '../../src/pki/trust-bundle.js';
import { fromTimestamp, type CertifyResponseMessage } from '../../src/proto/messages.js';
import type { Logger } from '../../src/telemetry/logger.js';
import { parseSubjectAltName } from '../tls/peer-identity.js';
import type { TlsState, WorkloadCertificate } from '../tls/tls-state.js';
import type { CertifyClient } from './certify-client.js';
import type { IdentitySource, ReissueCause } from './identity-source.js';
import type { ProxyMetrics } from '../metrics.js';

export interface WorkloadIdentityConfig {
  /** The local identity, e.g. web.default.serviceaccount.identity.lanyard.cluster.local. */
  identity: string;
  /** Makes a Certify client that trusts the given anchors. */
  connect: (anchorsPem: string) => IdentityClient;
  /** Projected service-account token; re-read on every request (kubelet rotates it). */
  tokenFile: string;
  tls: TlsState;
  /** If set, the key (0600) and certificate chain are written here; otherwise they stay in memory. */
  identityDir?: string;
  /** Fraction of the remaining lifetime after which to refresh. Default 0.7. */
  refreshFraction?: number;
  /** Refresh no more often than this, unless the certificate would expire first. Default 10s. */
  minRefreshMs?: number;
  /** Default 24h. */
  maxRefreshMs?: number;
  /** First retry delay after a failure. Default 1s; doubles up to maxBackoffMs (default 60s). */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** How often "waiting for identity" is logged before the first certificate. Default 10s. */
  waitingLogIntervalMs?: number;
  logger: Logger;
  metrics?: ProxyMetrics;
  clock?: () => number;
  random?: () => number;
}

/** What the identity client needs of a connection to the identity service. */
export type IdentityClient = Pick<CertifyClient, 'certify' | 'close' | 'watchIssuer'>;

/** What scheduled the next attempt: the first certificate, or a re-issue cause. */
type AttemptCause = 'initial' | ReissueCause;

export class WorkloadIdentity implements IdentitySource {
  private readonly key: KeyObject;
  private readonly spki: Buffer;
  private readonly csr: Buffer;
  private client: IdentityClient;
  private clientAnchors: string;
  private readonly clientListeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  /** When the scheduled attempt is due (epoch ms), and why it was scheduled. */
  private dueAt = Infinity;
  private cause: AttemptCause = 'initial';
  /** A retry after a failure: its cause was counted when it was first tried. */
  private retrying = false;
  private inFlight = false;
  /** A re-issue asked for while an attempt was in flight: applied once it settles. */
  private queued: { cause: ReissueCause; withinMs: number } | null = null;
  private waitingTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private lastError: string | null = null;
  private stopped = false;
  private firstResolve!: () => void;
  /** Resolves when the first certificate is installed. */
  readonly ready: Promise<void>;

  constructor(private readonly cfg: WorkloadIdentityConfig) {
    const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.key = kp.privateKey;
    this.spki = kp.publicKey.export({ format: 'der', type: 'spki' });
    this.csr = buildCsr(cfg.identity, kp.privateKey, kp.publicKey);
    this.clientAnchors = cfg.tls.anchors();
    this.client = cfg.connect(this.clientAnchors);
    this.ready = new Promise((resolve) => (this.firstResolve = resolve));
    if (cfg.identityDir) {
      mkdirSync(cfg.identityDir, { recursive: true, mode: 0o700 });
      writeAtomic(join(cfg.identityDir, 'tls.key'), this.key.export({ format: 'pem', type: 'pkcs8' }).toString(), 0o600);
    }
  }

  start(): void {
    this.schedule(0, 'initial');
    const every = this.cfg.waitingLogIntervalMs ?? 10_000;
    this.waitingTimer = setInterval(() => {
      if (!this.cfg.tls.current()) {
        this.cfg.logger.warn({ event: 'waiting_for_identity', identity: this.cfg.identity, last_error: this.lastError }, 'waiting for identity');
      }
    }, every);
    this.waitingTimer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.waitingTimer) clearInterval(this.waitingTimer);
    this.timer = this.waitingTimer = null;
    this.client.close();
  }

  /** Refreshes now. */
  refreshNow(): void {
    this.reissue('leaf-untrusted');
  }

  reissue(cause: ReissueCause, withinMs = 0): void {
    if (this.stopped) return;
    if (this.inFlight) {
      // The attempt in flight will reschedule when it settles; this one is applied then.
      if (!this.queued || withinMs < this.queued.withinMs) this.queued = { cause, withinMs };
      return;
    }
    const delay = withinMs > 0 ? Math.floor((this.cfg.random ?? Math.random)() * withinMs) : 0;
    if (this.timer && this.dueAt <= this.now() + delay) return; // an attempt is due sooner anyway
    this.retrying = false;
    this.schedule(delay, cause);
  }

  /** New anchors: the Certify connection is remade now, verified against them. */
  anchorsChanged(): void {
    this.currentClient();
  }

  /** Called after the Certify client was replaced (new anchors): streams on the old one are gone. */
  onClientReplaced(listener: () => void): () => void {
    this.clientListeners.add(listener);
    return () => void this.clientListeners.delete(listener);
  }

  /** Opens the issuer status stream on the current Certify connection. */
  watchIssuer(handlers: Parameters<IdentityClient['watchIssuer']>[1]): ReturnType<IdentityClient['watchIssuer']> {
    return this.currentClient().watchIssuer(this.cfg.identity, handlers, () => this.now());
  }

  /** SHA-256 fingerprint of the certificate that signed the leaf in use, or null without one. */
  leafIssuerFingerprint(): string | null {
    const c = this.cfg.tls.current()?.certificate;
    return c ? issuerFingerprintOf(c, this.cfg.tls.anchors()) : null;
  }

  get lastFailure(): string | null {
    return this.lastError;
  }

  private schedule(ms: number, cause: AttemptCause): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.cause = cause;
    this.dueAt = this.now() + ms;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.attempt();
    }, ms);
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    const started = this.now();
    const cause = this.cause;
    if (!this.retrying && cause !== 'initial') this.cfg.metrics?.reissued(cause);
    const previousIssuer = this.leafIssuerFingerprint();
    this.inFlight = true;
    try {
      const token = (await readFile(this.cfg.tokenFile, 'utf8').catch((e: Error) => {
        throw new Error(`cannot read token file ${this.cfg.tokenFile}: ${e.message}`);
      })).trim();
      if (!token) throw new Error(`token file ${this.cfg.tokenFile} is empty`);
      const res = await this.currentClient().certify(this.cfg.identity, token, this.csr);
      const cert = this.accept(res);
      this.inFlight = false;
      if (this.stopped) return;
      this.cfg.tls.installCertificate(cert);
      this.writeIdentityDir(cert);
      this.failures = 0;
      this.lastError = null;
      this.retrying = false;
      this.cfg.metrics?.identityRefreshed(cert, 'ok');
      const delay = this.refreshDelay(cert.notAfter.getTime() - this.now());
      const issuer = this.leafIssuerFingerprint();
      this.cfg.logger.info(
        {
          event: 'identity_refreshed',
          identity: cert.identity,
          serial: cert.serial,
          not_after: cert.notAfter.toISOString(),
          issuer_fingerprint: issuer,
          cause,
          next_refresh_in_ms: delay,
          duration_ms: this.now() - started,
        },
        'certificate installed',
      );
      // What each Certify answer says about the issuer: learned even without the status stream.
      if (previousIssuer && issuer !== previousIssuer) {
        this.cfg.logger.info({ event: 'issuer_changed', from: previousIssuer, to: issuer, serial: cert.serial }, 'the new certificate comes from another issuer');
      }
      this.firstResolve();
      this.schedule(delay, 'renewal');
      this.applyQueued();
    } catch (e) {
      this.inFlight = false;
      if (this.stopped) return;
      this.failures++;
      this.lastError = (e as Error).message;
      this.cfg.metrics?.identityRefreshed(null, 'error');
      const current = this.cfg.tls.current()?.certificate;
      const delay = this.retryDelay(current ? current.notAfter.getTime() - this.now() : null);
      this.cfg.logger.warn(
        {
          event: 'identity_refresh_failed',
          identity: this.cfg.identity,
          error: this.lastError,
          retry_in_ms: delay,
          keeping: current?.serial ?? null,
          expired: current ? current.notAfter.getTime() <= this.now() : null,
        },
        current ? 'certificate refresh failed; keeping the current certificate' : 'cannot get a certificate yet',
      );
      this.retrying = true;
      this.schedule(delay, cause);
      this.applyQueued();
    }
  }

  private applyQueued(): void {
    const q = this.queued;
    this.queued = null;
    if (q) this.reissue(q.cause, q.withinMs);
  }

  /** Validates a Certify response; throws with the reason it must not be installed. */
  private accept(res: CertifyResponseMessage): WorkloadCertificate {
    const leaf = new X509Certificate(res.leaf_certificate);
    const intermediates = res.intermediate_certificates.map((d) => new X509Certificate(d));
    const names = parseSubjectAltName(leaf.subjectAltName);
    if (!names.dns.includes(this.cfg.identity)) {
      throw new Error(`issued certificate names ${names.dns.join(', ') || 'no DNS identity'}, not ${this.cfg.identity}`);
    }
    if (!leaf.publicKey.export({ format: 'der', type: 'spki' }).equals(this.spki)) {
      throw new Error('issued certificate does not carry our public key');
    }
    const now = new Date(this.now());
    TrustBundle.fromPem(this.cfg.tls.anchors(), 'trust anchors').verify([leaf, ...intermediates], now);
    const notAfter = new Date(Date.parse(leaf.validTo));
    if (res.valid_until && Math.abs(fromTimestamp(res.valid_until).getTime() - notAfter.getTime()) > 1000) {
      this.cfg.logger.warn({ valid_until: fromTimestamp(res.valid_until).toISOString(), not_after: notAfter.toISOString() }, 'valid_until differs from the leaf NotAfter; using NotAfter');
    }
    return {
      keyPem: this.key.export({ format: 'pem', type: 'pkcs8' }).toString(),
      chainPem: [leaf, ...intermediates].map((c) => encodePem('CERTIFICATE', c.raw)).join(''),
      leaf,
      intermediates,
      identity: this.cfg.identity,
      spiffeId: names.spiffe,
      notBefore: new Date(Date.parse(leaf.validFrom)),
      notAfter,
      serial: leaf.serialNumber,
      installedAt: now,
    };
  }

  /**
   * 70% of the remaining life, jittered down by up to 10%, within [minRefresh, maxRefresh];
   * but never later than one second before expiry, so a short-lived certificate (tests, an
   * issuer about to expire) is replaced in time rather than waiting out the floor.
   */
  private refreshDelay(remainingMs: number): number {
    const jitter = 0.9 + 0.1 * (this.cfg.random ?? Math.random)();
    const target = remainingMs * (this.cfg.refreshFraction ?? 0.7) * jitter;
    const clamped = Math.min(Math.max(target, this.cfg.minRefreshMs ?? 10_000), this.cfg.maxRefreshMs ?? 86_400_000);
    return Math.max(0, Math.min(clamped, remainingMs - 1000));
  }

  /**
   * After a failure: the backoff, but never past the current certificate's expiry, and once
   * it has expired never longer than the first step. With an expired certificate every
   * connection fails, so the identity service coming back must be noticed at once, not at the
   * next step of a 60 s backoff. (Before the first certificate the plain backoff applies.)
   */
  private retryDelay(remainingMs: number | null): number {
    const backoff = this.backoff();
    if (remainingMs !== null && remainingMs > 0) return Math.min(backoff, Math.ceil(remainingMs));
    const first = (this.cfg.initialBackoffMs ?? 1000) * (0.5 + 0.5 * (this.cfg.random ?? Math.random)());
    return remainingMs === null ? backoff : Math.min(backoff, Math.round(first));
  }

  /** Capped exponential backoff with jitter in [50%, 100%] of the step. */
  private backoff(): number {
    const base = Math.min(this.cfg.maxBackoffMs ?? 60_000, (this.cfg.initialBackoffMs ?? 1000) * 2 ** (this.failures - 1));
    return Math.round(base * (0.5 + 0.5 * (this.cfg.random ?? Math.random)()));
  }

  private currentClient(): IdentityClient {
    const anchors = this.cfg.tls.anchors();
    if (anchors !== this.clientAnchors) {
      this.client.close();
      this.client = this.cfg.connect(anchors);
      this.clientAnchors = anchors;
      for (const l of this.clientListeners) l();
    }
    return this.client;
  }

  private writeIdentityDir(cert: WorkloadCertificate): void {
    if (!this.cfg.identityDir) return;
    writeAtomic(join(this.cfg.identityDir, 'tls.crt'), cert.chainPem, 0o644);
  }

  private now(): number {
    return (this.cfg.clock ?? Date.now)();
  }
}

/**
 * The fingerprint of the certificate that signed `cert`'s leaf: its first intermediate, or the
 * anchor itself when the leaf was signed by one directly.
 */
export function issuerFingerprintOf(cert: Pick<WorkloadCertificate, 'leaf' | 'intermediates'>, anchorsPem: string): string | null {
  const first = cert.intermediates[0];
  if (first && cert.leaf.checkIssued(first)) return first.fingerprint256;
  try {
    return TrustBundle.fromPem(anchorsPem).anchors.find((a) => cert.leaf.checkIssued(a) && cert.leaf.verify(a.publicKey))?.fingerprint256 ?? null;
  } catch {
    return null;
  }
}

function writeAtomic(path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  renameSync(tmp, path);
}
