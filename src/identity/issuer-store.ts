/**
 * Holds the issuer the identity service signs with, and keeps it current. Reading is
 * issuer-files.ts, checking is check-issuer.ts, and watching is the shared reloader
 * (src/util/watched-file.ts: filesystem events **and** a poll, so a Secret volume's `..data`
 * swap is never missed). This file holds: the current good issuer, swapped in one
 * assignment, so a Certify call signs with one complete issuer, old or new; its metrics; and
 * who to tell when it changes. A new issuer that fails any check is refused, logged and
 * counted once, and the last good one keeps signing.
 */
import type { Logger } from '../telemetry/logger.js';
import { describe } from '../pki/trust-bundle.js';
import { Counter, Gauge, type Registry } from '../telemetry/metrics.js';
import { WatchedFile, type WatchedFileFailure } from '../util/watched-file.js';
import { checkIssuer, type Issuer, type IssuerMaterial } from './check-issuer.js';
import { IssuerFiles } from './issuer-files.js';

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

  constructor(private readonly cfg: IssuerStoreConfig) {
    const files = new IssuerFiles(cfg);
    this.file = new WatchedFile({
      files: files.paths(),
      read: () => files.read(),
      check: (m) => checkIssuer(m, new Date(this.now())),
      name: `issuer files in ${cfg.issuerDir}`,
      pollIntervalMs: cfg.pollIntervalMs ?? 10_000,
      report: { loaded: (i, previous) => this.loaded(i, previous), failed: (f) => this.refused(f), recovered: (f) => this.recovered(f) },
      onListenerError: (e) => cfg.logger.warn({ event: 'issuer_listener_failed', reason: (e as Error).message }, 'an issuer listener threw'),
    });
    if (cfg.registry) this.reloads = this.register(cfg.registry);
  }

  /** Loads once and starts watching and polling. Never throws: a missing issuer means not ready. */
  async start(): Promise<void> {
    await this.file.start();
  }

  stop(): void {
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

  /** Called with each new issuer once it signs (not with the current one). Returns an unsubscribe. */
  onChange(listener: (issuer: Issuer) => void): () => void {
    return this.file.subscribe(listener, { replay: false });
  }

  /** Re-reads the files now (after a pass in progress); resolves once they are judged. */
  reload(): Promise<void> {
    return this.file.reload();
  }

  private loaded(issuer: Issuer, previous: Issuer | undefined): void {
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

  private refused(f: WatchedFileFailure): void {
    const keeping = this.file.current();
    // `refused`: the files were read and judged unfit; `error`: they could not be read.
    this.reloads?.inc({ result: f.stage === 'read' ? 'error' : 'refused' });
    this.cfg.logger.error(
      { event: 'issuer_rejected', dir: this.cfg.issuerDir, code: (f.error as { code?: string }).code, reason: f.error.message, keeping: keeping?.fingerprint ?? null },
      keeping ? 'new issuer refused; the previous issuer keeps signing' : 'no valid issuer; Certify answers UNAVAILABLE',
    );
  }

  private recovered(f: WatchedFileFailure): void {
    this.cfg.logger.info({ event: 'issuer_recovered', dir: this.cfg.issuerDir, after: f.error.message, fingerprint: this.file.current()?.fingerprint }, 'issuer files are good again');
  }

  private register(registry: Registry): Counter<'result'> {
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
    return new Counter({
      name: 'lanyard_identity_issuer_reloads_total',
      help: 'Issuer loads of changed files, by result: ok, refused (an unfit issuer) or error (unreadable files); each distinct failure counted once.',
      labelNames: ['result'],
      registers: [registry],
    });
  }

  private now(): number {
    return (this.cfg.clock ?? Date.now)();
  }
}
