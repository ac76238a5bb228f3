/**
 * Prometheus metrics: counters, gauges and histograms held in registries and written in the
 * text exposition format (0.0.4). Each component instance gets its own Registry, never a
 * global one, so several services, or several tests, can live in one process.
 *
 * Lanyard's own rather than prom-client: the sidecar runs in every pod, and prom-client with
 * its dependencies held about 2.2 MiB of V8 heap in each proxy (its default metrics, cluster
 * support and OpenMetrics exemplars, which we do not use). This is the part we use, with
 * prom-client's names and behaviour (`inc`/`set`/`observe` with or without labels, `collect`
 * hooks called with the metric as `this`, `zero`, `reset`, per-metric aggregators for the
 * identity service's workers), so the exposition is the same.
 */
import { readdirSync, readFileSync } from 'node:fs';

export type LabelValues<T extends string> = Partial<Record<T, string | number>>;
export type MetricType = 'counter' | 'gauge' | 'histogram';
/** How the identity service's primary combines one series across its workers. */
export type Aggregator = 'sum' | 'first' | 'min' | 'max' | 'average' | 'omit';

export interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  /** A histogram's `_bucket`, `_sum` or `_count` line; absent means the metric's name. */
  metricName?: string;
}

/** One metric's current state: what /metrics writes, and what workers send their primary. */
export interface MetricObject {
  name: string;
  help: string;
  type: MetricType;
  aggregator: Aggregator;
  values: MetricValue[];
}

/** What a registry holds: anything that can say its current state. */
export interface Collectable {
  readonly name: string;
  get(): Promise<MetricObject>;
}

export interface MetricConfiguration<T extends string, M> {
  name: string;
  help: string;
  labelNames?: readonly T[];
  registers?: Registry[];
  /** Default `sum`. */
  aggregator?: Aggregator;
  /** Called before every read, with the metric as `this`: for values computed on demand. */
  collect?: (this: M) => void | Promise<void>;
}

export interface HistogramConfiguration<T extends string> extends MetricConfiguration<T, Histogram<T>> {
  /** Upper bounds, ascending; `+Inf` is implied. */
  buckets?: readonly number[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** prom-client's and the Go client's default buckets (seconds). */
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

type Labels = Record<string, string | number>;

abstract class Metric<T extends string, S> implements Collectable {
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly T[];
  readonly aggregator: Aggregator;
  protected readonly series = new Map<string, { labels: Labels; state: S }>();
  private readonly collector: ((this: never) => void | Promise<void>) | undefined;
  private readonly sortedNames: readonly T[];

  protected constructor(
    cfg: MetricConfiguration<T, never>,
    readonly type: MetricType,
  ) {
    if (!METRIC_NAME.test(cfg.name ?? '')) throw new Error(`invalid metric name ${JSON.stringify(cfg.name)}`);
    if (!cfg.help) throw new Error(`metric ${cfg.name}: help is required`);
    const names = cfg.labelNames ?? [];
    for (const l of names) {
      if (!LABEL_NAME.test(l) || l.startsWith('__')) throw new Error(`metric ${cfg.name}: invalid label name ${JSON.stringify(l)}`);
    }
    if (new Set(names).size !== names.length) throw new Error(`metric ${cfg.name}: a label name is given twice`);
    this.name = cfg.name;
    this.help = cfg.help;
    this.labelNames = names;
    this.sortedNames = [...names].sort();
    this.aggregator = cfg.aggregator ?? 'sum';
    this.collector = cfg.collect;
    for (const r of cfg.registers ?? []) r.registerMetric(this);
  }

  protected abstract initial(): S;
  protected abstract valuesOf(labels: Labels, state: S): MetricValue[];

  async get(): Promise<MetricObject> {
    if (this.collector) await (this.collector as (this: this) => void | Promise<void>).call(this);
    // An unlabelled metric always has its one series, at zero until something happens.
    if (this.labelNames.length === 0) this.at({});
    const values: MetricValue[] = [];
    for (const { labels, state } of this.series.values()) values.push(...this.valuesOf(labels, state));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  /** Drops every labelled series (an unlabelled metric goes back to zero). */
  reset(): void {
    this.series.clear();
  }

  /** Drops one labelled series. */
  remove(labels: LabelValues<T>): void {
    this.series.delete(this.keyOf(labels));
  }

  /** The series of `labels`, created at its initial value. */
  protected at(labels: LabelValues<T> = {}): S {
    const key = this.keyOf(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: { ...(labels as Labels) }, state: this.initial() };
      this.series.set(key, s);
    }
    return s.state;
  }

  private keyOf(labels: LabelValues<T>): string {
    for (const l of Object.keys(labels)) {
      if (!this.labelNames.includes(l as T)) throw new Error(`metric ${this.name}: label "${l}" is not one of its labels (${this.labelNames.join(', ') || 'none'})`);
    }
    let key = '';
    for (const n of this.sortedNames) {
      const v = (labels as Labels)[n];
      if (v !== undefined) key += `${n}\u0000${v}\u0001`;
    }
    return key;
  }
}

/** `(labels, value)` or `(value)` or `()`, as prom-client takes them. */
function split<T extends string>(a: LabelValues<T> | number | undefined, b: number | undefined, dflt?: number): [LabelValues<T>, number | undefined] {
  return typeof a === 'object' ? [a, b ?? dflt] : [{}, a ?? dflt];
}

/** A number; NaN only where `nan` allows it (a gauge may say NaN, as prom-client let it). */
function checkNumber(metric: string, v: unknown, nan = false): number {
  if (typeof v !== 'number' || (!nan && Number.isNaN(v))) throw new TypeError(`metric ${metric}: value is not a number: ${String(v)}`);
  return v;
}

/** A metric with one number per series: counters and gauges. */
abstract class Scalar<T extends string> extends Metric<T, { value: number }> {
  protected initial(): { value: number } {
    return { value: 0 };
  }

  protected valuesOf(labels: Labels, s: { value: number }): MetricValue[] {
    return [{ value: s.value, labels }];
  }
}

export class Counter<T extends string = string> extends Scalar<T> {
  constructor(cfg: MetricConfiguration<T, Counter<T>>) {
    super(cfg as MetricConfiguration<T, never>, 'counter');
  }

  inc(labels?: LabelValues<T> | number, value?: number): void {
    const [l, v] = split(labels, value, 1);
    const n = checkNumber(this.name, v);
    if (n < 0) throw new Error(`metric ${this.name}: a counter cannot decrease (inc by ${n})`);
    if (n === Infinity) throw new TypeError(`metric ${this.name}: value is not finite: ${n}`);
    this.at(l).value += n;
  }
}

export class Gauge<T extends string = string> extends Scalar<T> {
  constructor(cfg: MetricConfiguration<T, Gauge<T>>) {
    super(cfg as MetricConfiguration<T, never>, 'gauge');
  }

  set(labels: LabelValues<T> | number, value?: number): void {
    const [l, v] = split(labels, value);
    this.at(l).value = checkNumber(this.name, v, true);
  }

  inc(labels?: LabelValues<T> | number, value?: number): void {
    const [l, v] = split(labels, value, 1);
    this.at(l).value += checkNumber(this.name, v, true);
  }

  dec(labels?: LabelValues<T> | number, value?: number): void {
    const [l, v] = split(labels, value, 1);
    this.at(l).value -= checkNumber(this.name, v, true);
  }

  /** Creates (or sets) the series of `labels` at 0. */
  zero(labels: LabelValues<T>): void {
    this.at(labels).value = 0;
  }
}

interface HistogramState {
  /** Observations per bucket, not cumulative; the last is above every bound. */
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram<T extends string = string> extends Metric<T, HistogramState> {
  private readonly bounds: readonly number[];

  constructor(cfg: HistogramConfiguration<T>) {
    const bounds = cfg.buckets ?? DEFAULT_BUCKETS;
    if (bounds.length === 0 || bounds.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= bounds[i - 1]))) {
      throw new Error(`metric ${cfg.name}: buckets must be finite and ascending`);
    }
    if ((cfg.labelNames ?? []).includes('le' as T)) throw new Error(`metric ${cfg.name}: "le" is reserved for buckets`);
    super(cfg as MetricConfiguration<T, never>, 'histogram');
    this.bounds = bounds;
  }

  observe(labels: LabelValues<T> | number, value?: number): void {
    const [l, v] = split(labels, value);
    const n = checkNumber(this.name, v);
    if (!Number.isFinite(n)) throw new TypeError(`metric ${this.name}: value is not finite: ${n}`);
    const s = this.at(l);
    let i = 0;
    while (i < this.bounds.length && n > this.bounds[i]) i++;
    s.counts[i]++;
    s.sum += n;
    s.count++;
  }

  /** Creates the series of `labels` with every bucket at 0. */
  zero(labels: LabelValues<T>): void {
    this.at(labels);
  }

  protected initial(): HistogramState {
    return { counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 };
  }

  protected valuesOf(labels: Labels, s: HistogramState): MetricValue[] {
    const out: MetricValue[] = [];
    let cumulative = 0;
    this.bounds.forEach((le, i) => {
      cumulative += s.counts[i];
      out.push({ value: cumulative, labels: { ...labels, le }, metricName: `${this.name}_bucket` });
    });
    out.push({ value: s.count, labels: { ...labels, le: '+Inf' }, metricName: `${this.name}_bucket` });
    out.push({ value: s.sum, labels, metricName: `${this.name}_sum` });
    out.push({ value: s.count, labels, metricName: `${this.name}_count` });
    return out;
  }
}

/** A metric whose values are computed at every read (process metrics, aggregated workers). */
class Computed implements Collectable {
  constructor(
    readonly name: string,
    private readonly read: () => MetricObject | Promise<MetricObject>,
  ) {}

  async get(): Promise<MetricObject> {
    return this.read();
  }
}

export class Registry {
  static readonly PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
  readonly contentType = Registry.PROMETHEUS_CONTENT_TYPE;
  private readonly byName = new Map<string, Collectable>();

  registerMetric(metric: Collectable): void {
    const had = this.byName.get(metric.name);
    if (had && had !== metric) throw new Error(`A metric with the name ${metric.name} has already been registered.`);
    this.byName.set(metric.name, metric);
  }

  getSingleMetric(name: string): Collectable | undefined {
    return this.byName.get(name);
  }

  removeSingleMetric(name: string): void {
    this.byName.delete(name);
  }

  clear(): void {
    this.byName.clear();
  }

  async getMetricsAsJSON(): Promise<MetricObject[]> {
    return Promise.all([...this.byName.values()].map((m) => m.get()));
  }

  /** The text exposition of every metric, in registration order. */
  async metrics(): Promise<string> {
    return `${(await this.getMetricsAsJSON()).map(exposition).join('\n\n')}\n`;
  }

  /**
   * One registry holding `perProcess` combined: series with the same name, line and labels
   * are merged by their metric's aggregator (`omit` drops the metric).
   */
  static aggregate(perProcess: MetricObject[][]): Registry {
    const byName = new Map<string, MetricObject[]>();
    for (const list of perProcess) for (const m of list) listIn(byName, m.name).push(m);
    const out = new Registry();
    for (const [name, same] of byName) {
      const first = same[0];
      if (first.aggregator === 'omit') continue;
      const combine = COMBINE[first.aggregator];
      if (!combine) throw new Error(`metric ${name}: unknown aggregator ${JSON.stringify(first.aggregator)}`);
      const groups = new Map<string, MetricValue[]>();
      for (const m of same) {
        for (const v of m.values) {
          const key = `${v.metricName ?? ''}\u0002${labelKey(v.labels)}`;
          listIn(groups, key).push(v);
        }
      }
      const values = [...groups.values()].map((vs) => ({ ...vs[0], value: combine(vs.map((v) => v.value)) }));
      const merged: MetricObject = { ...first, values };
      out.registerMetric(new Computed(name, () => merged));
    }
    return out;
  }
}

const COMBINE: Record<Exclude<Aggregator, 'omit'>, (v: number[]) => number> = {
  sum: (v) => v.reduce((a, b) => a + b, 0),
  first: (v) => v[0],
  min: (v) => Math.min(...v),
  max: (v) => Math.max(...v),
  average: (v) => v.reduce((a, b) => a + b, 0) / v.length,
};

function labelKey(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}\u0000${labels[k]}`)
    .join('\u0001');
}

const escapeHelp = (s: string) => s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
const escapeLabel = (s: string) => escapeHelp(s).replace(/"/g, '\\"');

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return `${v}`;
}

function exposition(m: MetricObject): string {
  const lines = [`# HELP ${m.name} ${escapeHelp(m.help)}`, `# TYPE ${m.name} ${m.type}`];
  for (const v of m.values) {
    const pairs = Object.entries(v.labels).map(([k, x]) => `${k}="${escapeLabel(String(x))}"`);
    lines.push(`${v.metricName ?? m.name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatValue(v.value)}`);
  }
  return lines.join('\n');
}

/**
 * The process metrics every Lanyard component exports, named as Prometheus' client libraries
 * name them (`process_*`) plus Node's heap and event loop (`nodejs_*`). Read at scrape time:
 * no timers run between scrapes.
 */
function registerProcessMetrics(registry: Registry): void {
  const one = (name: string, help: string, type: MetricType, aggregator: Aggregator, read: () => MetricValue[] | Promise<MetricValue[]>) =>
    registry.registerMetric(new Computed(name, async () => ({ name, help, type, aggregator, values: await read() })));
  const plain = (value: number): MetricValue[] => [{ value, labels: {} }];
  const cpu = (pick: (u: NodeJS.CpuUsage) => number) => () => plain(pick(process.cpuUsage()) / 1e6);
  one('process_cpu_user_seconds_total', 'User CPU time spent, in seconds.', 'counter', 'sum', cpu((u) => u.user));
  one('process_cpu_system_seconds_total', 'System CPU time spent, in seconds.', 'counter', 'sum', cpu((u) => u.system));
  one('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', 'counter', 'sum', cpu((u) => u.user + u.system));
  const started = Math.round(Date.now() / 1000 - process.uptime());
  one('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.', 'gauge', 'min', () => plain(started));
  one('process_resident_memory_bytes', 'Resident memory size, in bytes.', 'gauge', 'sum', () => plain(process.memoryUsage.rss()));
  const status = procStatus();
  if (status) {
    // The per-pod cost: anonymous memory is private to the process, while most of its other
    // resident pages are the node binary's, shared by every sidecar of the same image.
    one('process_resident_anonymous_memory_bytes', 'Resident anonymous (private) memory, in bytes: RssAnon of /proc/self/status.', 'gauge', 'sum', () => plain((procStatus()?.RssAnon ?? 0) * 1024));
    one('process_virtual_memory_bytes', 'Virtual memory size, in bytes.', 'gauge', 'sum', () => plain((procStatus()?.VmSize ?? 0) * 1024));
  }
  const maxFds = readMaxFds();
  if (maxFds !== null) {
    one('process_open_fds', 'Open file descriptors.', 'gauge', 'sum', () => plain(Math.max(0, readdirSync('/proc/self/fd').length - 1)));
    one('process_max_fds', 'Maximum number of open file descriptors.', 'gauge', 'first', () => plain(maxFds));
  }
  one('nodejs_heap_size_total_bytes', 'V8 heap size, in bytes.', 'gauge', 'sum', () => plain(process.memoryUsage().heapTotal));
  one('nodejs_heap_size_used_bytes', 'V8 heap in use, in bytes.', 'gauge', 'sum', () => plain(process.memoryUsage().heapUsed));
  one('nodejs_external_memory_bytes', 'Memory outside the V8 heap held by JavaScript objects (buffers), in bytes.', 'gauge', 'sum', () => plain(process.memoryUsage().external));
  one('nodejs_eventloop_lag_seconds', 'How long a callback queued at scrape time waited to run, in seconds.', 'gauge', 'max', () => {
    const t0 = process.hrtime.bigint();
    return new Promise<MetricValue[]>((resolve) => setImmediate(() => resolve(plain(Number(process.hrtime.bigint() - t0) / 1e9))));
  });
  one('nodejs_active_resources', 'Resources keeping the event loop alive, by type (sockets, timers, …).', 'gauge', 'sum', () => {
    const byType = new Map<string, number>();
    for (const t of process.getActiveResourcesInfo()) byType.set(t, (byType.get(t) ?? 0) + 1);
    return [...byType].map(([type, value]) => ({ value, labels: { type } }));
  });
  const [major, minor, patch] = process.versions.node.split('.').map(Number);
  one('nodejs_version_info', 'Node.js version.', 'gauge', 'first', () => [{ value: 1, labels: { version: process.version, major, minor, patch } }]);
}

/** The kB fields of /proc/self/status, or null off Linux. */
function procStatus(): Record<string, number> | null {
  try {
    const out: Record<string, number> = {};
    for (const m of readFileSync('/proc/self/status', 'utf8').matchAll(/^(\w+):\s+(\d+) kB$/gm)) out[m[1]] = Number(m[2]);
    return out;
  } catch {
    return null;
  }
}

function readMaxFds(): number | null {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

export function createRegistry(opts: { processMetrics?: boolean } = {}): Registry {
  const registry = new Registry();
  if (opts.processMetrics) registerProcessMetrics(registry);
  return registry;
}

/** The list under `key`, made empty on first use. */
function listIn<V>(m: Map<string, V[]>, key: string): V[] {
  let list = m.get(key);
  if (!list) m.set(key, (list = []));
  return list;
}
