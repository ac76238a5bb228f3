/**
 * Keeps the proxy's trust anchors in step with their file, through the shared reloader
 * (src/util/watched-file.ts: watch and poll), so an anchor rotation (add the new anchor, move
 * the issuer, drop the old one) reaches running proxies without a restart. The file may sit
 * in a ConfigMap volume (`ca-bundle.crt` → `..data/ca-bundle.crt`): the `..data` swap is seen
 * through the watch on its directory. A file that holds no valid CA certificate, is empty or
 * cannot be read is refused, reported once and counted, and the current anchors stay.
 */
import { readFile } from 'node:fs/promises';
import { TrustBundle } from '../src/pki/trust-bundle.js';
import type { Logger } from '../src/telemetry/logger.js';
import { WatchedFile } from '../src/util/watched-file.js';
import type { ProxyMetrics } from './metrics.js';

export interface TrustAnchorsFileConfig {
  file: string;
  /** Default 5s. */
  pollIntervalMs?: number;
  logger: Logger;
  metrics?: ProxyMetrics;
  /** Called with the new bundle when it differs from the anchors in force, and the fingerprints of the anchors it dropped. */
  onChange: (pem: string, bundle: TrustBundle, removed: string[]) => void;
}

export class TrustAnchorsFile {
  private current: string;
  private currentBundle: TrustBundle | null;
  private readonly watched: WatchedFile<string, { pem: string; bundle: TrustBundle }>;

  constructor(
    private readonly cfg: TrustAnchorsFileConfig,
    /** The anchors the proxy started with (read from the same file by the configuration). */
    initialPem: string,
  ) {
    this.current = initialPem;
    this.currentBundle = safeBundle(initialPem);
    this.watched = new WatchedFile({
      files: [cfg.file],
      read: () => readFile(cfg.file, 'utf8'),
      check: (pem) => ({ pem, bundle: TrustBundle.fromPem(pem, cfg.file) }),
      name: `trust anchors file ${cfg.file}`,
      pollIntervalMs: cfg.pollIntervalMs ?? 5_000,
      report: {
        failed: (f) => {
          cfg.metrics?.trustBundleReloaded(f.stage === 'read' ? 'error' : 'refused');
          cfg.logger.error({ event: 'trust_anchors_rejected', file: cfg.file, reason: f.error.message }, 'new trust anchors refused; keeping the current ones');
        },
        recovered: (f) => cfg.logger.info({ event: 'trust_anchors_recovered', file: cfg.file, after: f.error.message }, 'the trust anchors file is good again'),
      },
      onListenerError: (e) => cfg.logger.warn({ event: 'trust_anchors_listener_failed', reason: (e as Error).message }, 'a trust anchors listener threw'),
    });
    this.watched.subscribe((v) => this.changed(v.pem, v.bundle));
  }

  /** Starts watching; resolves after the first read. */
  start(): Promise<void> {
    return this.watched.start();
  }

  stop(): void {
    void this.watched.close();
  }

  /** Re-reads the file now (after a pass in progress). */
  reload(): Promise<void> {
    return this.watched.reload();
  }

  private changed(pem: string, bundle: TrustBundle): void {
    if (pem === this.current) return; // the first read finds what the proxy started with
    const after = bundle.anchors.map((a) => a.fingerprint256);
    const before = this.currentBundle?.anchors.map((a) => a.fingerprint256) ?? [];
    const removed = before.filter((f) => !after.includes(f));
    this.current = pem;
    this.currentBundle = bundle;
    this.cfg.metrics?.trustBundleReloaded('ok');
    this.cfg.logger.info(
      { event: 'trust_anchors_loaded', file: this.cfg.file, anchors: after, added: after.filter((f) => !before.includes(f)), removed },
      'trust anchors reloaded',
    );
    this.cfg.onChange(pem, bundle, removed);
  }
}

function safeBundle(pem: string): TrustBundle | null {
  try {
    return TrustBundle.fromPem(pem);
  } catch {
    return null;
  }
}
