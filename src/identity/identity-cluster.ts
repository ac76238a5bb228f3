/**
 * `lanyard identity --workers N`, the primary's side: N node:cluster workers each run the
 * whole Certify path (token check, CSR check, signing) on one shared listening socket, so the
 * service uses every core; one process's event loop was the end-to-end bottleneck. Node's
 * round-robin scheduling spreads *connections*, so one client with one HTTP/2 connection
 * still lands on one worker; many proxies, many connections, spread evenly.
 *
 * The primary signs nothing. It serves admin HTTP once: /ready only when every worker is
 * listening with a valid issuer, and /metrics summed over the workers (Registry.aggregate,
 * each metric by its own aggregator). A worker that dies is logged and replaced, with a growing
 * delay while replacements keep dying young. A worker that dies before the service has
 * started at all fails the start-up instead: bad configuration would kill every replacement.
 */
import cluster, { type Worker } from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { AdminServer, type ReadyState } from '../telemetry/admin-server.js';
import type { Logger } from '../telemetry/logger.js';
import { Counter, Gauge, Registry, type MetricObject } from '../telemetry/metrics.js';
import { CLUSTER_MESSAGE, isWorkerMessage, type PrimaryToWorkerMessage, type WorkerToPrimaryMessage } from './identity-cluster-worker.js';

export interface IdentityClusterConfig {
  /** Number of workers, at least 2 (one worker is the plain single-process service). */
  workers: number;
  adminHost: string;
  adminPort: number;
  logger: Logger;
  /** Delay before replacing a dead worker; doubles while replacements die within 10s, up to 30s. Default 500ms. */
  restartDelayMs?: number;
  /** How long workers get to finish in-flight calls on stop before SIGKILL. Default 5s. */
  stopTimeoutMs?: number;
  /** How long a scrape waits for each worker's metrics; a worker that misses it is left out. Default 2s. */
  metricsTimeoutMs?: number;
}

export interface RunningIdentityCluster {
  port: number;
  admin: AddressInfo;
}

interface Slot {
  worker: Worker;
  forkedAt: number;
  port?: number;
  ready: boolean;
  reason: string;
}

interface MetricsRequest {
  awaiting: Set<number>;
  replies: MetricObject[][];
  finish: () => void;
}

/** The primary's own metrics, followed by the workers' metrics aggregated per name and labels. */
class ClusterMetricsRegistry extends Registry {
  constructor(private readonly collect: () => Promise<MetricObject[][]>) {
    super();
  }

  override async metrics(): Promise<string> {
    // Each metric carries its own aggregator (the expiry gauges say `min`).
    const perWorker = await this.collect();
    const workers = perWorker.length ? await Registry.aggregate(perWorker).metrics() : '';
    return workers + (await super.metrics());
  }
}

export class IdentityClusterSupervisor {
  private readonly slots = new Map<number, Slot>();
  private readonly requests = new Map<number, MetricsRequest>();
  private readonly replacements = new Set<NodeJS.Timeout>();
  private readonly registry: ClusterMetricsRegistry;
  private readonly admin: AdminServer;
  private readonly restarts: Counter;
  private startup: { resolve: (port: number) => void; reject: (e: Error) => void } | null = null;
  private stopping = false;
  private quickDeaths = 0;
  private nextRequestId = 0;

  constructor(private readonly cfg: IdentityClusterConfig) {
    if (!cluster.isPrimary) throw new Error('IdentityClusterSupervisor runs in the cluster primary only');
    this.registry = new ClusterMetricsRegistry(() => this.collectMetrics());
    this.restarts = new Counter({
      name: 'lanyard_identity_worker_restarts_total',
      help: 'Identity workers that died and were replaced.',
      registers: [this.registry],
    });
    const slots = this.slots;
    new Gauge({
      name: 'lanyard_identity_workers',
      help: 'Identity workers by state: configured, and ready (listening with a valid issuer).',
      labelNames: ['state'],
      registers: [this.registry],
      collect() {
        this.set({ state: 'configured' }, cfg.workers);
        this.set({ state: 'ready' }, [...slots.values()].filter((s) => s.port !== undefined && s.ready).length);
      },
    });
    this.admin = new AdminServer({ host: cfg.adminHost, port: cfg.adminPort, registry: this.registry, ready: () => this.readyState() });
  }

  /** Serves admin, forks the workers and resolves once every one is listening; rejects if one dies first. */
  async start(): Promise<RunningIdentityCluster> {
    const admin = await this.admin.start();
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
    const started = new Promise<number>((resolve, reject) => (this.startup = { resolve, reject }));
    for (let i = 0; i < this.cfg.workers; i++) this.fork();
    try {
      return { port: await started, admin };
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Asks every worker to stop (SIGTERM: they finish in-flight calls), waits, then closes admin. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.replacements) clearTimeout(t);
    this.replacements.clear();
    const live = [...this.slots.values()].map((s) => s.worker);
    await Promise.all(live.map((w) => this.stopWorker(w)));
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onExit);
    await this.admin.close();
  }

  /** Process ids of the live workers (for logs and tests). */
  workerPids(): number[] {
    return [...this.slots.values()].map((s) => s.worker.process.pid ?? -1);
  }

  readyState(): ReadyState {
    const slots = [...this.slots.values()];
    const waiting = slots.filter((s) => s.port === undefined || !s.ready);
    if (slots.length === this.cfg.workers && waiting.length === 0) return { ready: true };
    const parts = [`${slots.length - waiting.length} of ${this.cfg.workers} workers ready`];
    for (const s of waiting) parts.push(`worker ${s.worker.id}: ${s.port === undefined ? 'starting' : s.reason}`);
    const missing = this.cfg.workers - slots.length;
    if (missing > 0) parts.push(`${missing} to be replaced after dying`);
    return { ready: false, reason: parts.join('; ') };
  }

  private fork(): void {
    const worker = cluster.fork();
    this.slots.set(worker.id, { worker, forkedAt: Date.now(), ready: false, reason: 'starting' });
    this.cfg.logger.info({ event: 'worker_started', worker: worker.id, pid: worker.process.pid }, 'identity worker started');
  }

  private readonly onMessage = (worker: Worker, message: unknown): void => {
    const slot = this.slots.get(worker.id);
    if (!slot || !isWorkerMessage(message)) return;
    this.handle(slot, message);
  };

  private handle(slot: Slot, m: WorkerToPrimaryMessage): void {
    if (m.type === CLUSTER_MESSAGE.listening) {
      slot.port = m.port;
      const ports = [...this.slots.values()].map((s) => s.port);
      if (this.startup && ports.length === this.cfg.workers && ports.every((p) => p !== undefined)) {
        this.startup.resolve(m.port);
        this.startup = null;
      }
    } else if (m.type === CLUSTER_MESSAGE.ready) {
      slot.ready = m.ready;
      slot.reason = m.reason ?? '';
    } else {
      const request = this.requests.get(m.id);
      if (!request || !request.awaiting.delete(slot.worker.id)) return;
      if (m.metrics) request.replies.push(m.metrics);
      else this.cfg.logger.warn({ worker: slot.worker.id, reason: m.error }, 'identity worker could not report its metrics');
      if (request.awaiting.size === 0) request.finish();
    }
  }

  private readonly onExit = (worker: Worker, code: number | null, signal: string | null): void => {
    const slot = this.slots.get(worker.id);
    if (!slot) return;
    this.slots.delete(worker.id);
    for (const r of this.requests.values()) if (r.awaiting.delete(worker.id) && r.awaiting.size === 0) r.finish();
    if (this.stopping) return;
    if (this.startup) {
      this.startup.reject(new Error(`identity worker ${worker.id} exited during start-up (code ${code}, signal ${signal}); its error is above`));
      this.startup = null;
      return;
    }
    const lived = Date.now() - slot.forkedAt;
    this.quickDeaths = lived < 10_000 ? this.quickDeaths + 1 : 0;
    const delay = Math.min((this.cfg.restartDelayMs ?? 500) * 2 ** Math.max(0, this.quickDeaths - 1), 30_000);
    this.restarts.inc();
    this.cfg.logger.error(
      { event: 'worker_exited', worker: worker.id, pid: worker.process.pid, code, signal, lived_ms: lived, restart_in_ms: delay },
      'identity worker died; replacing it',
    );
    const t = setTimeout(() => {
      this.replacements.delete(t);
      if (!this.stopping) this.fork();
    }, delay);
    this.replacements.add(t);
  };

  /** Each listening worker's metrics as JSON; a worker that dies or misses the deadline is left out. */
  private collectMetrics(): Promise<MetricObject[][]> {
    const targets = [...this.slots.values()].filter((s) => s.port !== undefined && s.worker.isConnected());
    if (!targets.length) return Promise.resolve([]);
    const id = ++this.nextRequestId;
    return new Promise((resolve) => {
      const request: MetricsRequest = {
        awaiting: new Set(targets.map((s) => s.worker.id)),
        replies: [],
        finish: () => {
          clearTimeout(timer);
          this.requests.delete(id);
          resolve(request.replies);
        },
      };
      const timer = setTimeout(request.finish, this.cfg.metricsTimeoutMs ?? 2000);
      this.requests.set(id, request);
      const message: PrimaryToWorkerMessage = { type: CLUSTER_MESSAGE.metricsRequest, id };
      for (const s of targets) {
        try {
          s.worker.send(message);
        } catch {
          request.awaiting.delete(s.worker.id);
        }
      }
      if (request.awaiting.size === 0) request.finish();
    });
  }

  private stopWorker(worker: Worker): Promise<void> {
    if (worker.isDead()) return Promise.resolve();
    return new Promise((resolve) => {
      const kill = setTimeout(() => worker.process.kill('SIGKILL'), this.cfg.stopTimeoutMs ?? 5000);
      worker.once('exit', () => {
        clearTimeout(kill);
        resolve();
      });
      // Not worker.kill(): that disconnects first. SIGTERM lets the worker drain its calls.
      worker.process.kill('SIGTERM');
    });
  }
}
