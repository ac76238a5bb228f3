/**
 * The diagnostic log's view of refusals, bounded: per interval, the first refusal of a kind
 * from one multiplexed session is logged in full (`connection_denied`), the rest counted and
 * logged as one `connections_refused` line with the count. The audit sink is not
 * summarized: it receives every record.
 */
import type { Logger } from '../../src/telemetry/logger.js';

export type Line = Record<string, unknown>;

export class RefusalSummaries {
  private readonly buckets = new Map<string, { line: Line; count: number }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly logger: Logger,
    readonly intervalMs: number,
  ) {}

  /** True when `line` repeats a refusal already logged this interval: it was counted instead. */
  repeats(key: string, line: Line): boolean {
    const kind = `${key}\u0000${String(line.port)}\u0000${String(line.rule)}\u0000${String(line.reason)}\u0000${String(line.close_reason)}`;
    const bucket = this.buckets.get(kind);
    if (bucket) {
      bucket.count++;
      return true;
    }
    if (this.buckets.size >= 10_000) this.flush(); // bounded, whatever a flood varies
    this.buckets.set(kind, { line, count: 0 });
    if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.intervalMs);
      this.timer.unref();
    }
    return false;
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    for (const { line, count } of this.buckets.values()) {
      if (count === 0) continue;
      const { event: _e, ...verdict } = line;
      this.logger.warn({ event: 'connections_refused', ...verdict, count, interval_ms: this.intervalMs }, 'repeated refusals from one session, summarized');
    }
    this.buckets.clear();
  }
}
