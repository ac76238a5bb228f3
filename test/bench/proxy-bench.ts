/**
 * `npm run bench:proxy`: HTTP/1.1 through Lanyard's outbound → inbound proxy pair against
 * direct and against the peers (stunnel, haproxy, nginx, the 40-line Node TLS pipe) in one
 * interleaved run of ../shared/bench/peers (keep-alive req/s, fixed 2,000 req/s latency,
 * new connections/s, bulk MiB/s, peak RSS and CPU per 1,000 requests); then the transparent
 * path between two network namespaces (iptables redirects, discovery, mTLS) against direct
 * between the same namespaces.
 *
 * Env: REPS (default 1), DURATION (s per run, default 10), PAIRS (default
 * "direct node nginx haproxy stunnel custom"; `custom` is Lanyard), WORKLOADS,
 * SKIP_PEERS=1, SKIP_TRANSPARENT=1, PEERS_DIR (default ../shared/bench/peers), KEEP_RAW (a file to
 * copy the raw pairs.jsonl to), LANYARD_NODE_FLAGS (extra flags for proxy/bin/lanyard-proxy).
 * SOAK=<seconds> runs only the churn soak instead (test/bench/churn-soak.sh; IDLE, SAMPLE).
 */
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { packageRoot } from '../../src/cli/paths.js';
import { run } from './bench-util.js';
import { targetsReport } from './pair-targets.js';
import { transparentBench } from './transparent-bench.js';

/** ../shared/bench/peers beside the checkout; a worktree in ../wt/<name> finds it one level further up. */
function peersDir(): string | null {
  const candidates = [process.env.PEERS_DIR, resolve(packageRoot(), '..', 'shared', 'bench', 'peers'), resolve(packageRoot(), '..', '..', 'shared', 'bench', 'peers')];
  const dir = candidates.find((d) => d !== undefined && existsSync(join(d, 'run-all.sh')));
  if (!dir) console.log(`peers: ${candidates[1]} not found; skipping the pair comparison`);
  return dir ?? null;
}

/** SOAK=<seconds>: connection churn through Lanyard's pair, then idle, with memory sampled over time. */
async function soak(seconds: string): Promise<void> {
  const dir = peersDir();
  if (!dir) return;
  const out = mkdtempSync(join(tmpdir(), 'lanyard-bench-soak-'));
  try {
    const env = { ...process.env, OUT: out, PEERS_DIR: dir, SOAK: seconds, LANYARD_ROOT: packageRoot(), LANYARD_LOG_LEVEL: process.env.LANYARD_LOG_LEVEL ?? 'info' };
    const r = await run('bash', [join(packageRoot(), 'test', 'bench', 'churn-soak.sh')], { env, cwd: dir });
    console.log(r.stdout);
    if (r.code !== 0) console.error(r.stderr.split('\n').slice(-20).join('\n'));
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function peers(): Promise<void> {
  const dir = peersDir();
  if (!dir) return;
  const which = await run('sh', ['-c', 'command -v wrk && command -v nginx']);
  if (which.code !== 0) {
    console.log('peers: wrk or nginx missing; run ../shared/bench/peers/setup.sh first');
    return;
  }
  const out = mkdtempSync(join(tmpdir(), 'lanyard-bench-pairs-'));
  try {
    const env = {
      ...process.env,
      OUT: out,
      REPS: process.env.REPS ?? '1',
      DURATION: process.env.DURATION ?? '10',
      PAIRS: process.env.PAIRS ?? 'direct node nginx haproxy stunnel custom',
      CA_BENCH: '0',
      SKIP_SETUP: '1',
      LANYARD_ROOT: packageRoot(),
      LANYARD_LOG_LEVEL: process.env.LANYARD_LOG_LEVEL ?? 'info',
    };
    const script = `. ${JSON.stringify(join(packageRoot(), 'test', 'bench', 'lanyard-pair.env.sh'))} && exec bash ./run-all.sh`;
    console.log(`# Proxy pairs (../shared/bench/peers, REPS=${env.REPS}, DURATION=${env.DURATION}s; "custom" = Lanyard)\n`);
    const r = await run('bash', ['-c', script], { env, cwd: dir });
    if (r.code !== 0) console.error(r.stderr.split('\n').slice(-20).join('\n'));
    const results = join(out, 'results.md');
    console.log(existsSync(results) ? readFileSync(results, 'utf8').replace(/\| custom \|/g, '| lanyard |') : r.stdout);
    const raw = join(out, 'raw', 'pairs.jsonl');
    if (existsSync(raw)) {
      const rows = readFileSync(raw, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
      console.log(`## Lanyard against the issue-8 targets (medians of this run)\n\n${targetsReport(rows)}`);
      if (process.env.KEEP_RAW) copyFileSync(raw, process.env.KEEP_RAW);
    }
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.env.SOAK) return soak(process.env.SOAK);
  if (!process.env.SKIP_PEERS) await peers();
  if (!process.env.SKIP_TRANSPARENT) await transparentBench(Number(process.env.DURATION ?? 10));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
