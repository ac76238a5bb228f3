/**
 * The benchmark's verdict table: each target is the ratio of medians over reps, and beside it
 * the range of the same ratio taken within each rep, so noise that could flip a verdict shows.
 */
import { targetsReport, type Row } from '../../bench/pair-targets.js';

/** One rep's rows for a pair: fixed-rate p99 and CPU, keep-alive, churn and bulk. */
function rep(pair: string, k: number, v: { p99: number; rps: number; churn: number; bulk: number; cpu: number }): Row[] {
  const mem = { hwm_out_kb: 20_000, hwm_in_kb: 20_000, anon_out_kb: 15_000, anon_in_kb: 15_000 };
  return [
    { pair, workload: 'fixed', rep: k, p50_us: 400, p99_us: v.p99, p999_us: v.p99 * 2, cpu_ms_per_1k: v.cpu, ...mem },
    { pair, workload: 'keepalive', rep: k, rps: v.rps, ...mem },
    { pair, workload: 'churn', rep: k, rps: v.churn, ...mem },
    { pair, workload: 'bulk', rep: k, mib_s: v.bulk, ...mem },
  ];
}

function targetRow(report: string, label: string): string[] {
  const line = report.split('\n').find((l) => l.startsWith(`| ${label} |`));
  if (!line) throw new Error(`no row ${label} in:\n${report}`);
  return line.split('|').slice(1, -1).map((c) => c.trim());
}

describe('targetsReport', () => {
  const nginx = [1000, 2000, 4000];
  const rows: Row[] = [
    ...nginx.flatMap((p99, i) => rep('nginx', i + 1, { p99, rps: 20_000, churn: 800, bulk: 400, cpu: 100 })),
    // Lanyard's p99 is 1.5x, 1.25x and 1.25x nginx's rep by rep; its median is 2500, nginx's 2000.
    ...[1500, 2500, 5000].flatMap((p99, i) => rep('custom', i + 1, { p99, rps: 15_000 + i * 1000, churn: 1700, bulk: 380, cpu: 120 + i * 10 })),
    ...[1, 2, 3].flatMap((k) => rep('node', k, { p99: 2000, rps: 14_000, churn: 400, bulk: 350, cpu: 170 })),
  ];
  const report = targetsReport(rows);

  test('each target is the ratio of the medians, with the rep-by-rep range beside it', () => {
    expect(targetRow(report, 'fixed p99 × nginx')).toEqual(['fixed p99 × nginx', '1.25', '≤ 1.3', 'yes', '1.25–1.50']);
    expect(targetRow(report, 'keep-alive × nginx')).toEqual(['keep-alive × nginx', '0.80', '≥ 1', '**no**', '0.75–0.85']);
    expect(targetRow(report, 'churn × nginx')).toEqual(['churn × nginx', '2.13', '≥ 2', 'yes', '2.13–2.13']);
    expect(targetRow(report, 'CPU at 2k/s × nginx')).toEqual(['CPU at 2k/s × nginx', '1.30', '≤ 1.3', 'yes', '1.20–1.40']);
    expect(targetRow(report, 'bulk × nginx')).toEqual(['bulk × nginx', '0.95', '≥ 0.9', 'yes', '0.95–0.95']);
  });

  test('targets with no per-rep ratio, and a run of one rep, show no range', () => {
    expect(targetRow(report, 'peak RSS × node pipe')[4]).toBe('–');
    const one = targetsReport(rows.filter((r) => r.rep === 1));
    expect(targetRow(one, 'fixed p99 × nginx')).toEqual(['fixed p99 × nginx', '1.50', '≤ 1.3', '**no**', '–']);
  });
});
