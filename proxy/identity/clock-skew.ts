/**
 * The skew between this proxy's clock and the identity service's, from the service time in
 * each issuer status message. The first message of a stream answers our request, so the
 * service read its clock between our send and our receive: the estimate is taken at the
 * midpoint, within half the round trip. Later messages are pushed; they are read one way,
 * corrected by the half round trip last measured.
 *
 * It matters because the service backdates NotBefore by its `--skew` (20 s): a proxy whose
 * clock is further behind sees fresh leaves as not yet valid, and one far ahead sees leaves
 * expire early. Exported as `lanyard_proxy_identity_service_clock_skew_seconds` (service
 * minus proxy), in /identity as `identity_service_skew_ms`, and logged once when it goes past
 * the allowance (and once when it is back within).
 */
import type { IssuerStatusMessage } from '../../src/proto/issuer-status-codec.js';
import { fromTimestamp } from '../../src/proto/messages.js';
import type { Logger } from '../../src/telemetry/logger.js';
import type { ProxyMetrics } from '../metrics.js';

export interface ClockSkewConfig {
  /** Past this (either way) the skew is logged. Default 5s. */
  allowanceMs?: number;
  logger: Logger;
  metrics?: ProxyMetrics;
}

/** Our clock readings around a status: both for the answer to our request, only the arrival for a push. */
export type StatusTiming = { sentAt: number; receivedAt: number } | { receivedAt: number };

export class ClockSkew {
  /** The service's clock minus ours, ms; null until a status arrived. */
  skewMs: number | null = null;
  private halfTripMs = 0;
  private beyond = false;

  constructor(private readonly cfg: ClockSkewConfig) {}

  observe(s: IssuerStatusMessage, t: StatusTiming): void {
    if (!s.server_time || (!s.server_time.seconds && !s.server_time.nanos)) return;
    const service = fromTimestamp(s.server_time).getTime();
    if ('sentAt' in t) this.halfTripMs = Math.max(0, t.receivedAt - t.sentAt) / 2;
    const ours = 'sentAt' in t ? (t.sentAt + t.receivedAt) / 2 : t.receivedAt - this.halfTripMs;
    this.skewMs = Math.round(service - ours);
    this.cfg.metrics?.clockSkew(this.skewMs / 1000);
    this.judge();
  }

  private judge(): void {
    const allowance = this.cfg.allowanceMs ?? 5_000;
    const skew = this.skewMs!;
    // Only what is certain counts: the estimate is within ±halfTrip of the truth.
    const over = Math.abs(skew) - this.halfTripMs > allowance;
    if (over === this.beyond) return;
    this.beyond = over;
    const fields = { event: 'clock_skew', skew_ms: skew, uncertainty_ms: Math.ceil(this.halfTripMs), allowance_ms: allowance };
    if (over) {
      this.cfg.logger.warn(
        fields,
        `this proxy's clock is ${(Math.abs(skew) / 1000).toFixed(1)}s ${skew > 0 ? 'behind' : 'ahead of'} the identity service's, beyond the ${allowance / 1000}s allowed; fix the node's time synchronisation`,
      );
    } else {
      this.cfg.logger.info(fields, "this proxy's clock agrees with the identity service's again");
    }
  }
}
