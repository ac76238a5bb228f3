/**
 * The issue-8 targets for Lanyard's pair (`custom` in the peers' raw results), as ratios
 * against nginx and the node pipe from the same interleaved run, plus anonymous memory per
 * workload (the peers' summary shows only the largest). Medians over reps; beside each target,
 * the range of the same ratio taken rep by rep (each rep runs every pair back to back), so a
 * reader can tell a ratio the machine's noise could flip from one it could not.
 */
export interface Row {
  pair: string;
  workload: string;
  rep?: number;
  rps?: number;
  mib_s?: number;
  p50_us?: number;
  p99_us?: number;
  p999_us?: number;
  cpu_ms_per_1k?: number;
  hwm_out_kb?: number;
  hwm_in_kb?: number;
  anon_out_kb?: number;
  anon_in_kb?: number;
}

const WORKLOADS = ['keepalive', 'fixed', 'churn', 'bulk'] as const;

function median(xs: Array<number | undefined>): number {
  const v = xs.filter((x): x is number => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
}

const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');

function pick(rows: Row[], pair: string, workload: string, key: keyof Row): number {
  return median(rows.filter((r) => r.pair === pair && r.workload === workload).map((r) => r[key] as number | undefined));
}

/** Markdown: one table of figures per pair, one of target ratios, one of anon memory. */
export function targetsReport(rows: Row[], us = 'custom'): string {
  const pairs = ['custom', 'node', 'nginx', 'haproxy'].filter((p) => rows.some((r) => r.pair === p));
  const name = (p: string) => (p === 'custom' ? 'lanyard' : p);
  const ms = (p: string, k: keyof Row) => pick(rows, p, 'fixed', k) / 1000;
  const peakRss = (p: string) => Math.max(...WORKLOADS.map((w) => Math.max(pick(rows, p, w, 'hwm_out_kb'), pick(rows, p, w, 'hwm_in_kb')) / 1024).filter(Number.isFinite));
  const L: string[] = [];
  L.push('| | ' + pairs.map(name).join(' | ') + ' |', '|---|' + pairs.map(() => '---').join('|') + '|');
  const line = (label: string, cell: (p: string) => string) => L.push(`| ${label} | ${pairs.map(cell).join(' | ')} |`);
  line('keep-alive req/s', (p) => f(pick(rows, p, 'keepalive', 'rps')));
  line('fixed 2k/s p50 / p99 / p99.9 ms', (p) => `${f(ms(p, 'p50_us'), 2)} / ${f(ms(p, 'p99_us'), 2)} / ${f(ms(p, 'p999_us'), 2)}`);
  line('CPU ms per 1k req at 2k/s', (p) => f(pick(rows, p, 'fixed', 'cpu_ms_per_1k')));
  line('bulk MiB/s', (p) => f(pick(rows, p, 'bulk', 'mib_s')));
  line('new connections/s', (p) => f(pick(rows, p, 'churn', 'rps')));
  line('peak RSS MiB (max of out/in over workloads)', (p) => f(peakRss(p), 1));
  line('anon MiB out / in: ' + WORKLOADS.join(', '), (p) =>
    WORKLOADS.map((w) => `${f(pick(rows, p, w, 'anon_out_kb') / 1024, 1)}/${f(pick(rows, p, w, 'anon_in_kb') / 1024, 1)}`).join(', '),
  );
  L.push('');
  const anonMax = Math.max(...WORKLOADS.flatMap((w) => [pick(rows, us, w, 'anon_out_kb'), pick(rows, us, w, 'anon_in_kb')]).filter(Number.isFinite)) / 1024;
  const reps = [...new Set(rows.map((x) => x.rep).filter((x): x is number => typeof x === 'number'))].sort((a, b) => a - b);
  // Each ratio to nginx is taken over all rows (medians over reps) and within each rep alone.
  const ratio = (rs: Row[], w: string, k: keyof Row) => pick(rs, us, w, k) / pick(rs, 'nginx', w, k);
  const perRep = (w: string, k: keyof Row) => {
    const xs = reps.map((n) => ratio(rows.filter((x) => x.rep === n), w, k)).filter(Number.isFinite);
    return xs.length < 2 ? '–' : `${f(Math.min(...xs), 2)}–${f(Math.max(...xs), 2)}`;
  };
  const nginxTargets: Array<[string, string, keyof Row, 'max' | 'min', number]> = [
    ['fixed p99 × nginx', 'fixed', 'p99_us', 'max', 1.3],
    ['fixed p99.9 × nginx', 'fixed', 'p999_us', 'max', 1.5],
    ['bulk × nginx', 'bulk', 'mib_s', 'min', 0.9],
    ['keep-alive × nginx', 'keepalive', 'rps', 'min', 1],
    ['churn × nginx', 'churn', 'rps', 'min', 2],
    ['CPU at 2k/s × nginx', 'fixed', 'cpu_ms_per_1k', 'max', 1.3],
  ];
  const targets: Array<[string, number, string, boolean, string]> = nginxTargets.map(([label, w, k, bound, goal]) => {
    const v = ratio(rows, w, k);
    return [label, v, `${bound === 'max' ? '≤' : '≥'} ${goal}`, bound === 'max' ? v <= goal : v >= goal, perRep(w, k)];
  });
  const rss = peakRss(us) / peakRss('node');
  targets.push(['peak RSS × node pipe', rss, '≤ 1', rss <= 1, '–']);
  L.push('| target | lanyard | goal | met | rep by rep |', '|---|---|---|---|---|');
  for (const [label, v, goal, ok, spread] of targets) L.push(`| ${label} | ${f(v, 2)} | ${goal} | ${ok ? 'yes' : '**no**'} | ${spread} |`);
  L.push(`| anon MiB, max over workloads and sides | ${f(anonMax, 1)} | ≤ 16 | ${anonMax <= 16 ? 'yes' : '**no**'} | – |`);
  return L.join('\n') + '\n';
}
