/**
 * `npm run bench:tap`: does a slow `lanyard tap` slow the data path? A real proxy pair (web →
 * api over the multiplexed mTLS transport, identities from the real identity service) carries
 * short connections (connect, 64 bytes echoed, close: one audit record on each proxy per
 * connection), measured three ways, interleaved round by round so the machine's other load
 * falls on each alike:
 *
 *   no tap        nobody subscribed to /audit
 *   tap reading   a `lanyard tap` of both proxies, reading (its output to /dev/null)
 *   tap stalled   the same tap stopped with SIGSTOP: it reads nothing; the proxies queue for
 *                 it up to their buffer, then drop and count (measured only once dropping)
 *
 * Printed side by side: connections/s and connection latency p50/p90/p99 (connect to echo),
 * the records each proxy dropped for the stalled tap, and what the tap said it missed.
 * Env: DURATION (s per mode per round, default 5), ROUNDS (default 3), CONCURRENCY (default 4).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { CLI, ROOT } from '../support/cli.js';
import { Mesh, identityOf, metric, waitUntil, type ProxyProcess } from '../support/mesh-harness.js';
import { fmt, percentile } from './bench-util.js';

const DURATION_S = Number(process.env.DURATION ?? 5);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 4);
const PAYLOAD = Buffer.alloc(64, 'x');
type Mode = 'no tap' | 'tap reading' | 'tap stalled';
const MODES: Mode[] = ['no tap', 'tap reading', 'tap stalled'];

/** One short connection through web's outbound route: ms from connect to the echo. */
function oneConnection(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    let got = 0;
    let latency = 0;
    const s = connect({ host: '127.0.0.1', port }, () => s.end(PAYLOAD));
    s.on('data', (c: Buffer) => {
      got += c.length;
      if (got >= PAYLOAD.length && latency === 0) latency = Number(process.hrtime.bigint() - t0) / 1e6;
    });
    s.once('error', reject);
    s.once('close', () => (got === PAYLOAD.length ? resolve(latency) : reject(new Error(`echo of ${got} bytes`))));
  });
}

/** CONCURRENCY loops of connections for `seconds`: every latency, in ms. */
async function load(port: number, seconds: number): Promise<number[]> {
  const until = Date.now() + seconds * 1000;
  const out: number[] = [];
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    while (Date.now() < until) out.push(await oneConnection(port));
  }));
  return out;
}

interface TapProcess {
  child: ChildProcess;
  stderr: () => string;
}

/** `lanyard tap` of both proxies, confirmed subscribed on both. */
async function startTap(api: ProxyProcess, web: ProxyProcess): Promise<TapProcess> {
  const child = spawn(process.execPath, [CLI, 'tap', '--proxy', `127.0.0.1:${api.admin}`, '--proxy', `127.0.0.1:${web.admin}`, '-o', 'json'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d));
  await waitUntil(() => /tapping 2 proxies/.test(err), 'the tap subscribed', 30_000);
  return { child, stderr: () => err };
}

/** A stalled tap is resumed first, and given a moment to read what was queued and hear what was dropped. */
async function stopTap(t: TapProcess, stalled: boolean): Promise<void> {
  const exited = new Promise((r) => t.child.once('exit', r));
  if (stalled) {
    t.child.kill('SIGCONT');
    // Each proxy says so once the tap has read what it had queued.
    await waitUntil(() => (t.stderr().match(/dropped \d+ record/g)?.length ?? 0) >= 2, 'the resumed tap told of both proxies\' drops', 15_000).catch(() => undefined);
  }
  t.child.kill('SIGINT');
  await exited;
}

const dropped = async (api: ProxyProcess, web: ProxyProcess) =>
  (await metric(api.admin, 'lanyard_proxy_audit_stream_dropped_total')) + (await metric(web.admin, 'lanyard_proxy_audit_stream_dropped_total'));

async function main(): Promise<void> {
  const mesh = await Mesh.start();
  try {
    const app = await mesh.tcpApp((s) => s.pipe(s));
    const quiet = (name: string) => ({ LANYARD_LOG_LEVEL: 'info', LANYARD_PROXY_AUDIT_FILE: join(mesh.dir, `${name}.audit.jsonl`) });
    const api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(app.port), ...quiet('api') } });
    const routes = JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: identityOf('default', 'api') }]);
    const web = await mesh.proxy({ name: 'web', sa: 'web', env: { LANYARD_PROXY_ROUTES: routes, ...quiet('web') } });
    const port = web.outbound[0];
    await load(port, 1); // warm-up: the mux session, JIT

    const samples = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
    const seconds = new Map<Mode, number>(MODES.map((m) => [m, 0]));
    let droppedWhileMeasured = 0;
    const told: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of MODES) {
        let tap: TapProcess | null = null;
        if (mode !== 'no tap') tap = await startTap(api, web);
        if (mode === 'tap stalled') {
          tap!.child.kill('SIGSTOP');
          // Measure the stalled state itself: the proxies' buffers for the tap are full and records are being dropped.
          const before = await dropped(api, web);
          while ((await dropped(api, web)) === before) await load(port, 0.5);
        }
        const d0 = await dropped(api, web);
        const t0 = Date.now();
        samples.get(mode)!.push(...(await load(port, DURATION_S)));
        seconds.set(mode, seconds.get(mode)! + (Date.now() - t0) / 1000);
        if (mode === 'tap stalled') droppedWhileMeasured += (await dropped(api, web)) - d0;
        if (tap) {
          await stopTap(tap, mode === 'tap stalled');
          told.push(...tap.stderr().split('\n').filter((l) => l.includes('dropped')));
        }
        await waitUntil(async () => (await metric(api.admin, 'lanyard_proxy_audit_subscribers')) === 0, 'the tap unsubscribed', 10_000);
      }
    }

    console.log(`# Data path with and without a slow tap (web → api, mux mTLS, connect + 64 B echo + close; ${CONCURRENCY} at a time; ${ROUNDS} rounds × ${DURATION_S}s per mode, interleaved)\n`);
    console.log('| mode | connections | conn/s | p50 ms | p90 ms | p99 ms |');
    console.log('|---|---:|---:|---:|---:|---:|');
    for (const mode of MODES) {
      const s = samples.get(mode)!.sort((a, b) => a - b);
      console.log(`| ${mode} | ${fmt(s.length)} | ${fmt(s.length / seconds.get(mode)!)} | ${fmt(percentile(s, 50), 2)} | ${fmt(percentile(s, 90), 2)} | ${fmt(percentile(s, 99), 2)} |`);
    }
    console.log(`\nRecords dropped for the stalled tap while it was measured: ${fmt(droppedWhileMeasured)} (lanyard_proxy_audit_stream_dropped_total, both proxies; the audit files have every record).`);
    console.log(`The tap, once resumed, said:\n${told.map((l) => `  ${l}`).join('\n') || '  (nothing)'}`);
  } finally {
    await mesh.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
