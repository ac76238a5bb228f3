/**
 * Watches the trust-anchors file (watch and poll, like every reloadable file here) so an
 * anchor rotation — add the new anchor, move the issuer, drop the old one — reaches running
 * proxies without a restart. A file that holds no valid CA certificate is refused and the
 * current anchors stay.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TrustBundle } from '../src/pki/trust-bundle.js';
import type { Logger } from '../src/telemetry/logger.js';

export interface TrustAnchorsFileConfig {
  file: string;
  /** Default 5s. */
  pollIntervalMs?: number;
  logger: Logger;
  onChange: (pem: string) => void;
}

export class TrustAnchorsFile {
  private current = '';
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly cfg: TrustAnchorsFileConfig,
    initialPem: string,
  ) {
    this.current = initialPem;
  }

  start(): void {
    try {
      this.watcher = watch(dirname(this.cfg.file), { persistent: false }, () => void this.check());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // polling alone still catches every change
    }
    this.timer = setInterval(() => void this.check(), this.cfg.pollIntervalMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
  }

  async check(): Promise<void> {
    const pem = await readFile(this.cfg.file, 'utf8').catch(() => null);
    if (pem === null || pem === this.current) return;
    try {
      const bundle = TrustBundle.fromPem(pem, this.cfg.file);
      this.current = pem;
      this.cfg.logger.info({ event: 'trust_anchors_loaded', file: this.cfg.file, anchors: bundle.anchors.map((a) => a.fingerprint256) }, 'trust anchors reloaded');
      this.cfg.onChange(pem);
    } catch (e) {
      this.cfg.logger.error({ event: 'trust_anchors_rejected', file: this.cfg.file, reason: (e as Error).message }, 'new trust anchors refused; keeping the current ones');
    }
  }
}
