/**
 * `lanyard identity --workers N` fails start-up as the single process does: a bad
 * --workers value names the flag, and a worker that cannot start (here: a jwks validator
 * with no key source) stops the whole service with exit 1 and the worker's own error,
 * instead of being replaced forever.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lanyard } from '../support/cli.js';

test('bad --workers value names the flag and its variable', async () => {
  const r = await lanyard(['identity', '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0'], { LANYARD_IDENTITY_WORKERS: 'two' });
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('lanyard: --workers (or LANYARD_IDENTITY_WORKERS): expected a positive integer or auto, got "two"\n');
});

test('a worker that cannot start fails the start-up, leaving no process behind', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-workers-'));
  try {
    const r = await lanyard(['identity', '--workers', '2', '--validator', 'jwks', '--issuer-dir', dir, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^lanyard: --validator jwks needs exactly one of --jwks-file or --jwks-url$/m);
    expect(r.stderr).toMatch(/^lanyard: identity worker \d exited during start-up \(code 1, signal null\); its error is above$/m);
    const pids = r.stdout
      .split('\n')
      .filter((l) => l.includes('"worker_started"'))
      .map((l) => (JSON.parse(l) as { pid: number }).pid);
    expect(pids).toHaveLength(2);
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(/ESRCH/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
