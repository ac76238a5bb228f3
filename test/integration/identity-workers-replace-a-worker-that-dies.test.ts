/**
 * `lanyard identity --workers 2`: a worker killed from outside is logged and replaced;
 * /ready says so while it is missing and is ready again once the replacement has loaded its
 * issuer.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLanyard } from '../support/cli.js';

const lines = (out: string) =>
  out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('a dead worker is logged and replaced, and /ready follows', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-workers-'));
  const svc = startLanyard(['identity', '--workers', '2', '--issuer-dir', join(dir, 'pki'), '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
  try {
    await svc.waitFor(/identity service listening/, 30_000);
    const { admin } = lines(svc.stdout()).find((l) => l.msg === 'identity service listening') as { admin: string };
    const ready = async () => {
      const r = await fetch(`http://${admin}/ready`);
      return { status: r.status, body: await r.text() };
    };
    const victim = lines(svc.stdout()).find((l) => l.event === 'worker_started') as { worker: number; pid: number };

    process.kill(victim.pid, 'SIGKILL');
    const notReady = await until('/ready to notice', async () => {
      const r = await ready();
      return r.status === 503 ? r : undefined;
    });
    expect(notReady.body).toMatch(/^not ready: 1 of 2 workers ready/);
    await svc.waitFor(/"event":"worker_exited"/);
    const exited = lines(svc.stdout()).find((l) => l.event === 'worker_exited')!;
    expect(exited).toMatchObject({ level: 'error', worker: victim.worker, pid: victim.pid, signal: 'SIGKILL' });

    await until('the replacement to be ready', async () => ((await ready()).status === 200 ? true : undefined));
    const started = lines(svc.stdout()).filter((l) => l.event === 'worker_started');
    expect(started).toHaveLength(3);
    const metrics = await (await fetch(`http://${admin}/metrics`)).text();
    expect(metrics).toContain('lanyard_identity_worker_restarts_total 1');
    expect(await svc.stop('SIGINT')).toBe(0);
  } finally {
    await svc.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
