/**
 * Small measurement helpers shared by the benchmarks: percentiles, process CPU and RSS from
 * /proc (of one process or a process tree, for `--workers N`), waiting for a port or an
 * HTTP endpoint, and running a child process to completion.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, createServer } from 'node:net';

export function percentile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((q / 100) * sorted.length) - 1))];
}

const CLK_TCK = 100;

/** utime + stime of a process, in seconds. */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Peak resident set size (VmHWM) of a process, in MiB. */
export function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** `pid` and all its descendants (a cluster primary and its workers), from /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch {
      // exited while we looked
    }
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

const sumOver = (pids: number[], f: (pid: number) => number) =>
  pids.reduce((total, p) => {
    try {
      return total + f(p);
    } catch {
      return total; // exited while we looked
    }
  }, 0);

/** CPU seconds of a process and its live descendants. */
export const treeCpuSeconds = (pid: number): number => sumOver(processTree(pid), processCpuSeconds);

/** Sum of the peak RSS of a process and its live descendants, in MiB (an upper bound of the tree's peak). */
export const treePeakRssMiB = (pid: number): number => sumOver(processTree(pid), peakRssMiB);

/**
 * CPU seconds spent by the whole machine (every CPU, every process) since boot, from
 * /proc/stat: with our own processes' CPU subtracted, what other processes took during a
 * measurement, the noise on a shared machine.
 */
export function machineBusySeconds(): number {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = cpu;
  return (user + nice + system + irq + softirq + (steal ?? 0)) / CLK_TCK;
}

/** Polls `url` until it answers 200 (e.g. /ready once every worker has its issuer). */
export async function waitForHttp200(url: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await fetch(url).then((r) => r.status, () => 0);
    if (status === 200) return;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${status || 'no answer'})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export async function waitForPort(port: number, timeoutMs = 10_000, host = '127.0.0.1'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`port ${port} did not open within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env: opts.env ?? process.env, cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

export async function stopChild(child: ChildProcess, timeoutMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await done;
  clearTimeout(timer);
}

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '–';

/** `openssl speed ecdsap256` for `seconds`: sign/s, verify/s and the verify+sign limit per core. */
export async function opensslEcdsaP256(seconds = 3): Promise<{ sign: number; verify: number; limit: number; version: string } | null> {
  const r = await run('openssl', ['speed', '-seconds', String(seconds), 'ecdsap256']).catch(() => null);
  if (!r || r.code !== 0) return null;
  const line = r.stdout.split('\n').reverse().find((l) => /ecdsa \(nistp256\)/.test(l));
  if (!line) return null;
  const parts = line.trim().split(/\s+/);
  const sign = Number(parts[parts.length - 2]);
  const verify = Number(parts[parts.length - 1]);
  const version = (await run('openssl', ['version'])).stdout.trim();
  return { sign, verify, limit: 1 / (1 / sign + 1 / verify), version };
}
