/**
 * A bad new policy file is refused: logged with the file, path and reason, counted as a
 * failure, and the policy in force does not change. A good file afterwards is loaded.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyStore } from '../../proxy/policy/policy-store.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import { LogSink } from '../support/log-sink.js';

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function replace(file: string, text: string): void {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

test('bad file refused, old policy kept, failure counted; then a good file loads', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-policy-bad-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'default: deny\nports:\n  "8080":\n    allow:\n      - networks: [192.168.10.0/24]\n');
  const logs = new LogSink();
  const registry = createRegistry();
  const store = new PolicyStore({ file, pollIntervalMs: 200, logger: logs.logger(), registry });
  await store.start();
  const peer = { tls: false, identity: null, spiffeId: null, address: '192.168.10.7' };
  try {
    const good = store.current();
    const changes: unknown[] = [];
    store.onChange((p) => changes.push(p));

    replace(file, 'default: deny\nports:\n  "8080":\n    allow:\n      - networks: [192.168.10.0/24]\n      - networks: ["10.0.0.0/33"]\n');
    await waitFor(() => logs.where({ event: 'policy_rejected' }).length > 0);
    // Several polls later the same bad file is still refused, but reported only once.
    await new Promise((r) => setTimeout(r, 600));

    expect(store.current()).toBe(good);
    expect(store.current().authorize(peer, 8080).rule).toBe('port:8080/allow[0] network 192.168.10.0/24');
    expect(changes).toHaveLength(0);
    const rejected = logs.where({ event: 'policy_rejected' });
    expect(rejected).toHaveLength(1);
    expect(rejected[0]).toMatchObject({
      level: 'error',
      file,
      reason: `policy file ${file}: ports.8080.allow[1].networks[0]: "10.0.0.0/33" is not a CIDR`,
      msg: 'new policy refused; the previous policy stays in force',
    });
    expect(rejected[0].keeping).toMatch(/^[0-9a-f]{16}$/);
    expect(await registry.metrics()).toMatch(/lanyard_proxy_policy_reloads_total\{result="failure"\} 1/);

    // Deleting the file is refused the same way.
    rmSync(file);
    await waitFor(() => logs.where({ event: 'policy_rejected' }).length === 2);
    expect(logs.where({ event: 'policy_rejected' })[1].reason).toMatch(/^policy file .*: cannot read \(ENOENT/);
    expect(store.current()).toBe(good);

    replace(file, 'default: deny\nports:\n  "8080":\n    default: all-unauthenticated\n');
    await waitFor(() => changes.length === 1);
    expect(store.current().authorize({ ...peer, address: '8.8.8.8' }, 8080).rule).toBe('port:8080/default:all-unauthenticated');
    const metrics = await registry.metrics();
    expect(metrics).toMatch(/lanyard_proxy_policy_reloads_total\{result="success"\} 2/);
    expect(metrics).toMatch(/lanyard_proxy_policy_reloads_total\{result="failure"\} 2/);
  } finally {
    store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
