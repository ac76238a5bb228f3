/**
 * The transparent path measured between two network namespaces: client pod A (wrk and the
 * fixed-rate client) and server pod B (nginx-like HTTP app), each with proxy-init rules and
 * a transparent proxy, against direct traffic between the same namespaces on a port both
 * proxies' rules ignore. Needs root, iptables and wrk.
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { packageRoot } from '../../src/cli/paths.js';
import { canRunE2e, NS_PREFIX, sh } from '../e2e/support/netns.js';
import { NamespaceMesh } from '../e2e/support/mesh-in-namespaces.js';
import { fmt } from './bench-util.js';

interface Row {
  path: string;
  rps: number;
  p50: number;
  p99: number;
  fixedP99: number;
  errors: number;
}

export async function transparentBench(duration: number): Promise<void> {
  console.log('\n# Transparent path between two network namespaces\n');
  const skip = canRunE2e() ?? (spawnSync('sh', ['-c', 'command -v wrk']).status === 0 ? null : 'wrk is not installed');
  if (skip) {
    console.log(`skipped: ${skip}`);
    return;
  }
  const mesh = new NamespaceMesh(`${NS_PREFIX}-bench-${process.pid}`);
  try {
    await mesh.startControlPlane();
    // Port 8081 is excluded from both pods' rules: the "direct" baseline between the same namespaces.
    const b = await mesh.pod('b', 11, 'api', {}, ['--inbound-ports-to-ignore', '8081']);
    const a = await mesh.pod('a', 10, 'web', {}, ['--outbound-ports-to-ignore', '8081']);
    const fixedRate = resolve(packageRoot(), '..', 'shared', 'bench', 'peers', 'fixed-rate.mjs');
    const rows: Row[] = [];
    for (const [path, port] of [['direct', 8081], ['lanyard (transparent)', 8080]] as const) {
      const url = `http://${b.ip}:${port}/`;
      const wrk = sh(['wrk', '-t1', '-c16', `-d${duration}s`, '--latency', url], { netns: a.netns });
      const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(wrk)?.[1]);
      const lat = (q: string) => toMs(new RegExp(`\\s${q}%\\s+([\\d.]+\\w+)`).exec(wrk)?.[1]);
      let fixedP99 = NaN;
      try {
        const fr = sh([process.execPath, fixedRate, '--host', b.ip, '--port', String(port), '--rate', '2000', '--conns', '4', '--duration', String(duration)], { netns: a.netns });
        const j = JSON.parse(fr.split('\n').find((l) => l.startsWith('FRJSON '))!.slice(7)) as { send_p99_us?: number; p99_us?: number };
        fixedP99 = (j.send_p99_us ?? j.p99_us ?? NaN) / 1000;
      } catch {
        // fixed-rate.mjs lives with the peers; without them only wrk figures are shown
      }
      const errors = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(wrk)?.[1] ?? 0) + Number(/Socket errors:.*timeout (\d+)/.exec(wrk)?.[1] ?? 0);
      rows.push({ path, rps, p50: lat('50'), p99: lat('99'), fixedP99, errors });
    }
    console.log('| path (pod A → pod B, HTTP/1.1) | keep-alive req/s | ×direct | p50 ms | p99 ms | fixed 2k/s p99 ms | added p99 ms | errors |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(`| ${r.path} | ${fmt(r.rps)} | ${fmt(r.rps / rows[0].rps, 2)} | ${fmt(r.p50, 3)} | ${fmt(r.p99, 3)} | ${fmt(r.fixedP99, 3)} | ${fmt(r.fixedP99 - rows[0].fixedP99, 3)} | ${r.errors} |`);
    }
    console.log('\nBENCHJSON ' + JSON.stringify({ bench: 'proxy-transparent', duration, rows }));
  } finally {
    await mesh.destroy();
  }
}

function toMs(v: string | undefined): number {
  if (!v) return NaN;
  const m = /^([\d.]+)(us|ms|s)$/.exec(v);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 0.001 : m[2] === 's' ? 1000 : 1);
}

