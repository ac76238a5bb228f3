/**
 * `lanyard identity --workers N` fails start-up as the single process does: a bad
 * --workers value or validator options are usage errors (exit 2) found before any worker
 * forks, and a worker that cannot start (here: the Certify port is taken) stops the whole
 * service with exit 1 and the worker's own error, instead of being replaced forever.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lanyard } from '../support/cli.js';

test('bad --workers value names the flag and its variable', async () => {
  const r = await lanyard(['identity', '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0'], { LANYARD_IDENTITY_WORKERS: 'two' });
  expect(r.code).toBe(2);
  expect(r.stderr).toBe('lanyard: --workers (env LANYARD_IDENTITY_WORKERS): expected an integer from 1 to 1024, got "two"\n');
});

test('validator options are checked before the workers fork', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-workers-'));
  try {
    const r = await lanyard(['identity', '--workers', '2', '--validator', 'jwks', '--issuer-dir', dir, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('lanyard: --validator jwks needs exactly one of --jwks-file or --jwks-url\n');
    expect(r.stdout).not.toContain('"worker_started"');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a worker that cannot start fails the start-up, leaving no process behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-workers-'));
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const port = (taken.address() as { port: number }).port;
  try {
    const r = await lanyard(['identity', '--workers', '2', '--issuer-dir', join(dir, 'pki'), '--addr', `127.0.0.1:${port}`, '--admin-addr', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lanyard: .*EADDRINUSE/m);
    expect(r.stderr).toMatch(/^lanyard: identity worker \d exited during start-up \(code 1, signal null\); its error is above$/m);
    const pids = r.stdout
      .split('\n')
      .filter((l) => l.includes('"worker_started"'))
      .map((l) => (JSON.parse(l) as { pid: number }).pid);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  } finally {
    await new Promise<void>((r) => taken.close(() => r()));
    rmSync(dir, { recursive: true, force: true });
  }
}, 60_000);
