/**
 * Holds the issuer the identity service signs with, and the trust bundle it is checked
 * against, and keeps both current. Reading is issuer-files.ts, checking is check-issuer.ts,
 * and watching is the shared reloader (src/util/watched-file.ts: filesystem events **and** a
 * poll, so a Secret or ConfigMap volume's `..data` swap is never missed). This file holds: the
 * current good issuer and bundle, swapped in one assignment, so a Certify call signs with one
 * complete issuer, old or new; their metrics; and who to tell when they change.
 *
 * Issuer and bundle are read and judged together (one consistent read, so a Secret holding
 * both never pairs a new issuer with an old bundle), but reported apart: a change of anchors
 * alone is a bundle reload, not an issuer reload. A new issuer or bundle that fails any check
 * (unreadable, empty, not CAs, or a bundle the issuer in force does not chain to) is refused,
 * logged and counted once, and the last good pair stays in force: while either part is bad,
 * neither is taken.
 */
import type { Logger } from '../telemetry/logger.js';
import { bundleFingerprint } from '../pki/bundle-fingerprint.js';
import { describe } from '../pki/trust-bundle.js';
import { Counter, Gauge, type Registry } from '../telemetry/metrics.js';
import { timerDelay } from '../util/duration.js';
import { WatchedFile, type WatchedFileFailure } from '../util/watched-file.js';
import { checkIssuer, IssuerError, type Issuer, type IssuerMaterial } from './check-issuer.js';
import { IssuerFiles } from './issuer-files.js';

/** What a reload did to each part, in the `result` vocabulary every Lanyard component uses. */
type ReloadResult = 'ok' | 'refused' | 'error';

export type { Issuer } from './check-issuer.js';

export interface IssuerStoreConfig {
  /** Holds `tls.crt`+`tls.key`, `crt.pem`+`key.pem` or `issuer.crt`+`issuer.key`. */
  issuerDir: string;
  /** A bundle file, or a directory with `ca.crt` or `ca-bundle.crt`. Default: `issuerDir`. */
  trustAnchors?: string;
  /** Poll period. Default 10s. */
  pollIntervalMs?: number;
  logger: Logger;
  registry?: Registry;
  clock?: () => number;
}

export class IssuerStore {
  private readonly file: WatchedFile<IssuerMaterial, Issuer>;
  private readonly reloads?: Counter<'result'>;
  private readonly bundleReloads?: Counter<'result'>;
  /** The material each accepted issuer was built from, to tell which part a refusal is about. */
  private readonly materials = new WeakMap<Issuer, IssuerMaterial>();
  private lastRead: IssuerMaterial | null = null;
  private readonly fingerprints = new WeakMap<Issuer, string>();
  private expiryTimer: NodeJS.Timeout | null = null;
  private readonly expiryListeners = new Set<(issuer: Issuer) => void>();

  constructor(private readonly cfg: IssuerStoreConfig) {
    const files = new IssuerFiles(cfg);
    this.file = new WatchedFile({
      files: files.paths(),
      read: async () => (this.lastRead = await files.read()),
      check: (m) => {
        const issuer = checkIssuer(m, new Date(this.now()));
        this.materials.set(issuer, m);
        return issuer;
      },
      name: `issuer files in ${cfg.issuerDir}`,
      pollIntervalMs: cfg.pollIntervalMs ?? 10_000,
      report: { loaded: (i, previous) => this.loaded(i, previous), failed: (f) => this.refused(f), recovered: (f) => this.recovered(f) },
      onListenerError: (e) => cfg.logger.warn({ event: 'issuer_listener_failed', reason: (e as Error).message }, 'an issuer listener threw'),
    });
    if (cfg.registry) [this.reloads, this.bundleReloads] = this.register(cfg.registry);
  }

  /** Loads once and starts watching and polling. Never throws: a missing issuer means not ready. */
  async start(): Promise<void> {
    await this.file.start();
  }

  stop(): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    void this.file.close();
  }

  /** The issuer to sign with, or null if none is loaded or it is outside its validity. */
  current(): Issuer | null {
    const i = this.file.current();
    if (!i) return null;
    const now = this.now();
    return now >= i.notBefore.getTime() && now < i.notAfter.getTime() ? i : null;
  }

  /** Why `current()` is null, for /ready and UNAVAILABLE messages. */
  unavailableReason(): string {
    const i = this.file.current();
    if (!i) return `no valid issuer loaded from ${this.cfg.issuerDir}: ${this.file.lastFailure()?.error.message ?? 'not loaded yet'}`;
    if (this.now() >= i.notAfter.getTime()) return `issuer ${describe(i.certificate)} expired at ${i.certificate.validTo}`;
    if (this.now() < i.notBefore.getTime()) return `issuer ${describe(i.certificate)} is not valid before ${i.certificate.validFrom}`;
    return 'issuer is valid';
  }

  /**
   * Called with each new issuer or bundle once it is in force (not with the current one).
   * Returns an unsubscribe.
   */
  onChange(listener: (issuer: Issuer) => void): () => void {
    return this.file.subscribe(listener, { replay: false });
  }

  /** Called when the issuer in force reaches its NotAfter (Certify answers UNAVAILABLE from then on). */
  onExpiry(listener: (issuer: Issuer) => void): () => void {
    this.expiryListeners.add(listener);
    return () => void this.expiryListeners.delete(listener);
  }

  /** The issuer in force, valid or not (for status reports), or null if none was ever loaded. */
  loadedIssuer(): Issuer | null {
    return this.file.current() ?? null;
  }

  /** src/pki/bundle-fingerprint.ts of the bundle in force, or null if none is loaded. */
  bundleFingerprint(): string | null {
    const i = this.file.current();
    return i ? this.fingerprintOf(i) : null;
  }

  /** Re-reads the files now (after a pass in progress); resolves once they are judged. */
  reload(): Promise<void> {
    return this.file.reload();
  }

  private loaded(issuer: Issuer, previous: Issuer | undefined): void {
    this.armExpiry(issuer);
    if (!previous || previous.fingerprint !== issuer.fingerprint) {
      this.reloads?.inc({ result: 'ok' });
      this.cfg.logger.info(
        {
          event: 'issuer_loaded',
          issuer: issuer.certificate.subject.replace(/\n/g, ','),
          fingerprint: issuer.fingerprint,
          not_after: issuer.notAfter.toISOString(),
          anchors: issuer.bundle.anchors.length,
          replaced: previous?.fingerprint ?? null,
        },
        previous ? 'issuer reloaded' : 'issuer loaded',
      );
    }
    const bundle = this.fingerprintOf(issuer);
    if (previous && this.fingerprintOf(previous) === bundle) return;
    this.bundleReloads?.inc({ result: 'ok' });
    const before = new Set(previous?.bundle.anchors.map((a) => a.fingerprint256) ?? []);
    const after = issuer.bundle.anchors.map((a) => a.fingerprint256);
    this.cfg.logger.info(
      {
        event: 'trust_bundle_loaded',
        bundle_fingerprint: bundle,
        anchors: after,
        added: previous ? after.filter((f) => !before.has(f)) : after,
        removed: [...before].filter((f) => !after.includes(f)),
      },
      previous ? 'trust bundle reloaded' : 'trust bundle loaded',
    );
  }

  /**
   * A refusal, counted and logged as the part it is about: a bundle that cannot be read, is
   * not a set of CAs, or that the issuer in force does not chain to, is a bundle refusal;
   * anything else about the issuer's files is an issuer refusal.
   */
  private refused(f: WatchedFileFailure): void {
    const keeping = this.file.current();
    // `refused`: the files were read and judged unfit; `error`: they could not be read.
    const result: ReloadResult = f.stage === 'read' ? 'error' : 'refused';
    const code = (f.error as { code?: string }).code;
    if (this.aboutBundle(f, keeping)) {
      this.bundleReloads?.inc({ result });
      this.cfg.logger.error(
        { event: 'trust_bundle_rejected', code, reason: f.error.message, keeping: keeping ? this.fingerprintOf(keeping) : null },
        keeping ? 'new trust bundle refused; the previous bundle and issuer stay in force' : 'no valid trust bundle; Certify answers UNAVAILABLE',
      );
      return;
    }
    this.reloads?.inc({ result });
    this.cfg.logger.error(
      { event: 'issuer_rejected', dir: this.cfg.issuerDir, code, reason: f.error.message, keeping: keeping?.fingerprint ?? null },
      keeping ? 'new issuer refused; the previous issuer keeps signing' : 'no valid issuer; Certify answers UNAVAILABLE',
    );
  }

  private aboutBundle(f: WatchedFileFailure, keeping: Issuer | undefined): boolean {
    if (f.error instanceof IssuerError && f.error.part === 'bundle') return true;
    // A chain failure with the issuer's own files unchanged: the new bundle dropped its anchor.
    const read = this.lastRead;
    const kept = keeping ? this.materials.get(keeping) : undefined;
    return f.error instanceof IssuerError && f.error.code === 'ERR_ISSUER_CHAIN' && !!read && !!kept && read.certPem === kept.certPem && read.keyPem === kept.keyPem;
  }

  private recovered(f: WatchedFileFailure): void {
    this.cfg.logger.info({ event: 'issuer_recovered', dir: this.cfg.issuerDir, after: f.error.message, fingerprint: this.file.current()?.fingerprint }, 'issuer files are good again');
  }

  /** At the issuer's NotAfter: logged once, and listeners told (readiness and Certify change then, not at a reload). */
  private armExpiry(issuer: Issuer): void {
    if (this.expiryTimer) clearTimeout(this.expiryTimer);
    this.expiryTimer = setTimeout(() => {
      this.expiryTimer = null;
      if (this.file.current() !== issuer) return;
      this.cfg.logger.error(
        { event: 'issuer_expired', fingerprint: issuer.fingerprint, not_after: issuer.notAfter.toISOString() },
        'the issuer has expired: Certify answers UNAVAILABLE until a valid issuer is loaded',
      );
      for (const l of this.expiryListeners) l(issuer);
    }, timerDelay(issuer.notAfter.getTime() - this.now()));
    this.expiryTimer.unref();
  }

  private fingerprintOf(issuer: Issuer): string {
    let f = this.fingerprints.get(issuer);
    if (!f) this.fingerprints.set(issuer, (f = bundleFingerprint(issuer.bundle.toPem())));
    return f;
  }

  private register(registry: Registry): [Counter<'result'>, Counter<'result'>] {
    const store = this;
    new Gauge({
      name: 'lanyard_identity_issuer_expiry_timestamp_seconds',
      help: 'NotAfter of the issuer currently signing, as a Unix timestamp.',
      registers: [registry],
      aggregator: 'min', // across --workers: the earliest expiry is the one to alert on
      collect() {
        const i = store.file.current();
        if (i) this.set(i.notAfter.getTime() / 1000);
      },
    });
    // Linkerd's identity controller's name and meaning (negative once expired), so alerts
    // written for Linkerd work unchanged.
    new Gauge({
      name: 'issuer_cert_ttl_seconds',
      help: 'The remaining seconds until the issuer certificate expires.',
      registers: [registry],
      aggregator: 'min',
      collect() {
        const i = store.file.current();
        if (i) this.set((i.notAfter.getTime() - store.now()) / 1000);
      },
    });
    new Gauge({
      name: 'lanyard_identity_trust_anchor_expiry_timestamp_seconds',
      help: 'NotAfter of each trust anchor in the bundle, as a Unix timestamp.',
      labelNames: ['fingerprint', 'subject'],
      registers: [registry],
      aggregator: 'min',
      collect() {
        this.reset();
        for (const a of store.file.current()?.bundle.anchors ?? []) {
          this.set({ fingerprint: a.fingerprint256, subject: a.subject.replace(/\n/g, ',') }, Date.parse(a.validTo) / 1000);
        }
      },
    });
    const counter = (name: string, help: string) => {
      const c = new Counter({ name, help, labelNames: ['result'], registers: [registry] });
      for (const result of ['ok', 'refused', 'error'] satisfies ReloadResult[]) c.inc({ result }, 0);
      return c;
    };
    return [
      counter('lanyard_identity_issuer_reloads_total', 'Issuer loads of changed files, by result: ok, refused (an unfit issuer) or error (unreadable files); each distinct failure counted once.'),
      counter(
        'lanyard_identity_trust_bundle_reloads_total',
        'Trust bundle loads of changed files, by result: ok, refused (no CA certificates, or the issuer in force does not chain to it) or error (unreadable); each distinct failure counted once.',
      ),
    ];
  }

  private now(): number {
    return (this.cfg.clock ?? Date.now)();
  }
}
