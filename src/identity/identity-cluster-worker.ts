/**
 * A cluster worker's side of `lanyard identity --workers N` (the primary is in
 * identity-cluster.ts). The worker runs the whole Certify path itself; over the cluster IPC
 * channel it tells the primary its port and whether it has a valid issuer, and answers the
 * primary's requests for its metrics so /metrics can sum them.
 */
import type { MetricObject, Registry } from '../telemetry/metrics.js';
import type { IssuerStore } from './issuer-store.js';

/** Message types on the cluster IPC channel, prefixed so they cannot collide with other users. */
export const CLUSTER_MESSAGE = {
  listening: 'lanyard:identity:listening',
  ready: 'lanyard:identity:ready',
  metricsRequest: 'lanyard:identity:metrics-request',
  metrics: 'lanyard:identity:metrics',
} as const;

export type WorkerToPrimaryMessage =
  | { type: typeof CLUSTER_MESSAGE.listening; port: number }
  | { type: typeof CLUSTER_MESSAGE.ready; ready: boolean; reason?: string }
  | { type: typeof CLUSTER_MESSAGE.metrics; id: number; metrics?: MetricObject[]; error?: string };

export type PrimaryToWorkerMessage = { type: typeof CLUSTER_MESSAGE.metricsRequest; id: number };

export function isWorkerMessage(m: unknown): m is WorkerToPrimaryMessage {
  const type = (m as { type?: unknown } | null)?.type;
  return type === CLUSTER_MESSAGE.listening || type === CLUSTER_MESSAGE.ready || type === CLUSTER_MESSAGE.metrics;
}

export interface IdentityClusterWorkerConfig {
  registry: Registry;
  issuers: Pick<IssuerStore, 'current' | 'unavailableReason' | 'onChange'>;
  /** How often readiness is re-checked: an issuer can expire with no file event. Default 1s. */
  checkIntervalMs?: number;
  /** Default process.send (the cluster IPC channel); tests pass their own. */
  send?: (message: WorkerToPrimaryMessage) => void;
}

export class IdentityClusterWorker {
  private timer: NodeJS.Timeout | null = null;
  private unsubscribe: (() => void) | null = null;
  private lastReported = '';
  private readonly onMessage = (m: unknown) => {
    const msg = m as Partial<PrimaryToWorkerMessage> | null;
    if (msg?.type === CLUSTER_MESSAGE.metricsRequest && typeof msg.id === 'number') void this.answerMetrics(msg.id);
  };

  constructor(private readonly cfg: IdentityClusterWorkerConfig) {}

  /** Call once Certify is listening on `port`. */
  start(port: number): void {
    process.on('message', this.onMessage);
    this.send({ type: CLUSTER_MESSAGE.listening, port });
    this.report();
    this.unsubscribe = this.cfg.issuers.onChange(() => this.report());
    this.timer = setInterval(() => this.report(), this.cfg.checkIntervalMs ?? 1000);
    this.timer.unref();
  }

  stop(): void {
    process.off('message', this.onMessage);
    this.unsubscribe?.();
    if (this.timer) clearInterval(this.timer);
    this.timer = this.unsubscribe = null;
  }

  /** Sends readiness when it changed since the last report. */
  private report(): void {
    const ready = this.cfg.issuers.current() !== null;
    const reason = ready ? undefined : this.cfg.issuers.unavailableReason();
    const key = `${ready}:${reason ?? ''}`;
    if (key === this.lastReported) return;
    this.lastReported = key;
    this.send({ type: CLUSTER_MESSAGE.ready, ready, ...(reason ? { reason } : {}) });
  }

  private async answerMetrics(id: number): Promise<void> {
    try {
      this.send({ type: CLUSTER_MESSAGE.metrics, id, metrics: await this.cfg.registry.getMetricsAsJSON() });
    } catch (e) {
      this.send({ type: CLUSTER_MESSAGE.metrics, id, error: (e as Error).message });
    }
  }

  private send(message: WorkerToPrimaryMessage): void {
    try {
      if (this.cfg.send) this.cfg.send(message);
      else process.send?.(message);
    } catch {
      // The channel is closed: the primary is gone, and Node ends this worker on 'disconnect'.
    }
  }
}
