/**
 * The project's metrics registry (src/telemetry/metrics.ts): the text it writes is what
 * Prometheus' own parser accepts (real promtool), counters refuse to go down, labels are
 * checked, histograms are cumulative, and the identity workers' metrics combine by each
 * metric's aggregator.
 */
import { Counter, Gauge, Histogram, Registry, createRegistry } from '../../../src/telemetry/metrics.js';
import { promtool, promtoolTest } from '../../support/promtool.js';

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l && !l.startsWith('#'));
}

test('counters, gauges and histograms with and without labels are written line by line', async () => {
  const r = new Registry();
  const c = new Counter({ name: 'demo_requests_total', help: 'Requests.', labelNames: ['result', 'code'] as const, registers: [r] });
  const plain = new Counter({ name: 'demo_plain_total', help: 'No labels.', registers: [r] });
  const g = new Gauge({ name: 'demo_open', help: 'Open things.', labelNames: ['direction'] as const, registers: [r] });
  const h = new Histogram({ name: 'demo_seconds', help: 'Latency.', buckets: [0.1, 1], registers: [r] });
  c.inc({ result: 'ok', code: 200 });
  c.inc({ result: 'ok', code: 200 }, 2);
  c.inc({ code: 200, result: 'refused' }, 0);
  g.set({ direction: 'inbound' }, 5);
  g.dec({ direction: 'inbound' });
  g.inc({ direction: 'outbound' }, 3);
  h.observe(0.1);
  h.observe(0.5);
  h.observe(7);
  expect(lines(await r.metrics())).toEqual([
    'demo_requests_total{result="ok",code="200"} 3',
    'demo_requests_total{code="200",result="refused"} 0',
    'demo_plain_total 0',
    'demo_open{direction="inbound"} 4',
    'demo_open{direction="outbound"} 3',
    'demo_seconds_bucket{le="0.1"} 1',
    'demo_seconds_bucket{le="1"} 2',
    'demo_seconds_bucket{le="+Inf"} 3',
    'demo_seconds_sum 7.6',
    'demo_seconds_count 3',
  ]);
  expect(plain.name).toBe('demo_plain_total');
  expect(r.contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
});

test('help text and label values are escaped', async () => {
  const r = new Registry();
  const g = new Gauge({ name: 'demo_info', help: 'A "quoted" help\nwith a back\\slash.', labelNames: ['subject'] as const, registers: [r] });
  g.set({ subject: 'CN="a\\b"\nO=x' }, 1);
  const text = await r.metrics();
  expect(text).toContain('# HELP demo_info A "quoted" help\\nwith a back\\\\slash.\n# TYPE demo_info gauge\n');
  expect(text).toContain('demo_info{subject="CN=\\"a\\\\b\\"\\nO=x"} 1\n');
});

test('a gauge may say NaN or infinity, written as Prometheus spells them', async () => {
  const r = new Registry();
  const g = new Gauge({ name: 'demo_ratio', help: 'x', labelNames: ['k'] as const, registers: [r] });
  g.set({ k: 'nan' }, Number.NaN);
  g.set({ k: 'up' }, Infinity);
  g.set({ k: 'down' }, -Infinity);
  expect(lines(await r.metrics())).toEqual(['demo_ratio{k="nan"} NaN', 'demo_ratio{k="up"} +Inf', 'demo_ratio{k="down"} -Inf']);
  expect(() => g.set({ k: 'x' }, '1' as unknown as number)).toThrow(/demo_ratio: value is not a number: 1/);
});

test('bad input is refused with the metric named', () => {
  const r = new Registry();
  const c = new Counter({ name: 'demo_total', help: 'x', labelNames: ['result'] as const, registers: [r] });
  expect(() => c.inc(-1)).toThrow(/demo_total: a counter cannot decrease/);
  expect(() => c.inc({ result: 'ok' }, Number.NaN)).toThrow(/demo_total: value is not a number/);
  expect(() => c.inc(Infinity)).toThrow(/demo_total: value is not finite/);
  expect(() => c.inc({ bogus: 'x' } as never)).toThrow(/demo_total: label "bogus" is not one of its labels \(result\)/);
  expect(() => new Counter({ name: 'demo_total', help: 'again', registers: [r] })).toThrow(/already been registered/);
  expect(() => new Gauge({ name: 'bad-name', help: 'x' })).toThrow(/invalid metric name/);
  expect(() => new Gauge({ name: 'demo_g', help: 'x', labelNames: ['__reserved'] })).toThrow(/invalid label name/);
  expect(() => new Histogram({ name: 'demo_h', help: 'x', buckets: [1, 0.5] })).toThrow(/ascending/);
  expect(() => new Histogram({ name: 'demo_h', help: 'x', labelNames: ['le'] })).toThrow(/reserved/);
  expect(() => new Histogram({ name: 'demo_h2', help: 'x' }).observe(Infinity)).toThrow(/not finite/);
});

test('collect runs before every read with the metric as this; reset and zero', async () => {
  const r = new Registry();
  let reads = 0;
  new Gauge({
    name: 'demo_computed',
    help: 'x',
    labelNames: ['n'] as const,
    registers: [r],
    collect() {
      this.reset();
      reads++;
      this.set({ n: String(reads) }, reads);
    },
  });
  const h = new Histogram({ name: 'demo_h_seconds', help: 'x', labelNames: ['m'] as const, buckets: [1], registers: [r] });
  h.zero({ m: 'Certify' });
  expect(lines(await r.metrics())).toEqual(['demo_computed{n="1"} 1', 'demo_h_seconds_bucket{m="Certify",le="1"} 0', 'demo_h_seconds_bucket{m="Certify",le="+Inf"} 0', 'demo_h_seconds_sum{m="Certify"} 0', 'demo_h_seconds_count{m="Certify"} 0']);
  const again = await r.getSingleMetric('demo_computed')!.get();
  expect(again.values).toEqual([{ value: 2, labels: { n: '2' } }]);
  r.removeSingleMetric('demo_computed');
  expect(r.getSingleMetric('demo_computed')).toBeUndefined();
});

test('workers combine by aggregator: sum by default, min, first, omit; histograms line by line', async () => {
  const worker = async (i: number) => {
    const r = new Registry();
    new Counter({ name: 'w_requests_total', help: 'x', labelNames: ['result'] as const, registers: [r] }).inc({ result: 'ok' }, i);
    new Gauge({ name: 'w_expiry_seconds', help: 'x', aggregator: 'min', registers: [r] }).set(100 * i);
    new Gauge({ name: 'w_build_info', help: 'x', labelNames: ['version'] as const, aggregator: 'first', registers: [r] }).set({ version: '1.0.0' }, 1);
    new Gauge({ name: 'w_private', help: 'x', aggregator: 'omit', registers: [r] }).set(i);
    new Histogram({ name: 'w_seconds', help: 'x', buckets: [1], registers: [r] }).observe(i);
    return r.getMetricsAsJSON();
  };
  // Through JSON, as the workers' answers come over IPC.
  const perWorker = JSON.parse(JSON.stringify([await worker(1), await worker(2)]));
  expect(lines(await Registry.aggregate(perWorker).metrics())).toEqual([
    'w_requests_total{result="ok"} 3',
    'w_expiry_seconds 100',
    'w_build_info{version="1.0.0"} 1',
    'w_seconds_bucket{le="1"} 1',
    'w_seconds_bucket{le="+Inf"} 2',
    'w_seconds_sum 3',
    'w_seconds_count 2',
  ]);
});

test('process metrics are read at scrape time', async () => {
  const r = createRegistry({ processMetrics: true });
  const m = async (name: string) => (await r.getSingleMetric(name)!.get()).values;
  const [cpu] = await m('process_cpu_seconds_total');
  const burn = Date.now() + 30;
  while (Date.now() < burn);
  const [cpuLater] = await m('process_cpu_seconds_total');
  expect(cpuLater.value).toBeGreaterThan(cpu.value);
  const [rss] = await m('process_resident_memory_bytes');
  expect(rss.value).toBeGreaterThan(10 * 1024 * 1024);
  const [start] = await m('process_start_time_seconds');
  expect(Math.abs(start.value - (Date.now() / 1000 - process.uptime()))).toBeLessThan(2);
  const [version] = await m('nodejs_version_info');
  expect(version.labels.version).toBe(process.version);
  if (process.platform === 'linux') {
    const [anon] = await m('process_resident_anonymous_memory_bytes');
    expect(anon.value).toBeGreaterThan(0);
    expect(anon.value).toBeLessThan(rss.value);
    const [fds] = await m('process_open_fds');
    expect(fds.value).toBeGreaterThan(2);
  }
});

promtoolTest('promtool check metrics accepts what a registry writes, process metrics included', async () => {
  const r = createRegistry({ processMetrics: true });
  new Counter({ name: 'demo_requests_total', help: 'Requests.', labelNames: ['result'] as const, registers: [r] }).inc({ result: 'ok' });
  new Histogram({ name: 'demo_duration_seconds', help: 'Latency.', labelNames: ['method'] as const, registers: [r] }).observe({ method: 'Certify' }, 0.002);
  new Gauge({ name: 'demo_subject_info', help: 'Escaped "values".', labelNames: ['subject'] as const, registers: [r] }).set({ subject: 'CN="x"\n' }, 1);
  const res = await promtool(['check', 'metrics'], await r.metrics());
  expect(res.stderr + res.stdout).toBe('');
  expect(res.code).toBe(0);
});
