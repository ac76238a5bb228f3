/**
 * `lanyard identity --workers 2`, a real process tree: two workers serve Certify on one
 * port (separate connections land on both), the primary's /metrics sums their counts and
 * /ready answers for both, and SIGTERM stops everything with exit 0 and no worker left.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lanyard, startLanyard } from '../support/cli.js';

const lines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('two workers share the Certify port; admin aggregates them; SIGTERM leaves nothing behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-workers-'));
  const pki = join(dir, 'pki');
  const svc = startLanyard(['identity', '--workers', '2', '--issuer-dir', pki, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
  try {
    await svc.waitFor(/identity service listening/, 30_000);
    const listening = lines(svc.stdout()).find((l) => l.msg === 'identity service listening') as { addr: string; admin: string; workers: number; csr_verifier: string };
    expect(listening.workers).toBe(2);
    expect(['native', 'node']).toContain(listening.csr_verifier);
    const pids = lines(svc.stdout())
      .filter((l) => l.event === 'worker_started')
      .map((l) => l.pid as number);
    expect(pids).toHaveLength(2);

    const admin = `http://${listening.admin}`;
    expect(await (await fetch(`${admin}/ready`)).text()).toBe('ready\n');

    const mint = await lanyard(['token', 'mint', '--ns', 'default', '--sa', 'web', '--pki-dir', pki]);
    const tokenFile = join(dir, 'web.token');
    writeFileSync(tokenFile, mint.stdout.trim());
    // Each `lanyard certify` is a new connection; the primary hands connections out in turn.
    for (let i = 0; i < 4; i++) {
      const r = await lanyard(['certify', '--ns', 'default', '--sa', 'web', '--token-file', tokenFile, '--out-dir', join(dir, `web-${i}`), '--addr', listening.addr, '--trust-anchors', join(pki, 'ca.crt')]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    const servedBy = new Set(lines(svc.stdout()).filter((l) => l.event === 'certify' && l.result === 'ok').map((l) => l.worker));
    expect(servedBy).toEqual(new Set([1, 2]));

    const metrics = await (await fetch(`${admin}/metrics`)).text();
    expect(metrics).toContain('lanyard_identity_certify_requests_total{result="ok",reason="issued"} 4');
    expect(metrics).toContain('lanyard_identity_workers{state="ready"} 2');
    // Every worker loaded the same issuer: its expiry is one timestamp, not a sum.
    const expiry = Number(/^lanyard_identity_issuer_expiry_timestamp_seconds (\d+)/m.exec(metrics)?.[1]);
    expect(expiry * 1000).toBeGreaterThan(Date.now());
    expect(expiry * 1000).toBeLessThan(Date.now() + 20 * 365 * 86_400_000);
    // Linkerd's issuer TTL and Lanyard's build info are one value each, not one per worker summed.
    const ttl = Number(/^issuer_cert_ttl_seconds (\S+)/m.exec(metrics)?.[1]);
    expect(Math.abs(ttl - (expiry - Date.now() / 1000))).toBeLessThan(60);
    expect(metrics).toMatch(/^lanyard_build_info\{version="[^"]+",node_version="[^"]+",component="identity"\} 1$/m);
    expect(metrics).toMatch(/^grpc_server_handled_total\{grpc_type="unary",grpc_service="io\.linkerd\.proxy\.identity\.Identity",grpc_method="Certify",grpc_code="OK"\} 4$/m);

    expect(await svc.stop('SIGTERM')).toBe(0);
    expect(pids.filter(alive)).toEqual([]);
  } finally {
    await svc.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
