/**
 * Gives the memory of a burst of connections back to the kernel. Each TLS connection or
 * multiplexed session holds tens of KiB in OpenSSL, nghttp2 and libuv; once a burst has
 * closed (and V8 has collected the wrappers, which frees it) glibc keeps those pages in a
 * fragmented heap, so the proxy's anonymous memory stays at its peak (see
 * proxy/native/src/malloc-trim.c for the figures). After at least `minClosed` connections
 * have closed, the next `ticks` ticks each call malloc_trim(0): the first catches what was
 * freed at once, the later ones what the garbage collector freed since. Nothing runs on the
 * data path; without the native addon (or glibc) nothing is trimmed.
 */
import type { Logger } from '../../src/telemetry/logger.js';

export interface MemoryReliefConfig {
  /** malloc_trim(0); true when memory was released. */
  trim: () => boolean;
  /** Connections closed so far (monotonic). */
  closed: () => number;
  /** Default 256. */
  minClosed?: number;
  /** Default 10s. */
  intervalMs?: number;
  /** Trims after a burst. Default 3. */
  ticks?: number;
  logger: Logger;
}

export class MemoryRelief {
  private seen = 0;
  private pending = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly cfg: MemoryReliefConfig) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.cfg.intervalMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** One check (the timer's; tests call it directly). */
  tick(): void {
    const closed = this.cfg.closed();
    if (closed - this.seen >= (this.cfg.minClosed ?? 256)) {
      this.seen = closed;
      this.pending = this.cfg.ticks ?? 3;
    }
    if (this.pending === 0) return;
    this.pending--;
    const before = process.memoryUsage.rss();
    const started = performance.now();
    const released = this.cfg.trim();
    const after = process.memoryUsage.rss();
    this.cfg.logger.debug(
      { event: 'memory_trimmed', released, rss_before_mb: mb(before), rss_after_mb: mb(after), duration_ms: Math.round((performance.now() - started) * 100) / 100 },
      'returned freed memory to the kernel',
    );
  }
}

const mb = (bytes: number) => Math.round(bytes / 104_857.6) / 10;
