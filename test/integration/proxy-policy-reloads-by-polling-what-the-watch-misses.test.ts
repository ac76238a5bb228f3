/**
 * The poll catches a change no directory event reports: the policy path is a symlink into
 * another directory, and the target is rewritten in place there.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

test('poll: a change outside the watched directory is loaded within a few intervals', async () => {
  const root = mkdtempSync(join(tmpdir(), 'lanyard-policy-poll-'));
  mkdirSync(join(root, 'watched'));
  mkdirSync(join(root, 'elsewhere'));
  const target = join(root, 'elsewhere', 'real-policy.yaml');
  writeFileSync(target, 'default: all-authenticated\n');
  symlinkSync(target, join(root, 'watched', 'policy.yaml'));
  const logs = new LogSink();
  const registry = createRegistry();
  const store = new PolicyStore({ file: join(root, 'watched', 'policy.yaml'), pollIntervalMs: 100, logger: logs.logger(), registry });
  await store.start();
  try {
    expect(store.current().defaultPolicy).toBe('all-authenticated');
    writeFileSync(target, 'default: cluster-authenticated\nclusterNetworks: [10.0.0.0/8]\n');
    await waitFor(() => store.current().defaultPolicy === 'cluster-authenticated', 3000);
    expect(store.current().summary().clusterNetworks).toEqual(['10.0.0.0/8']);
    expect(logs.where({ event: 'policy_loaded', msg: 'policy reloaded' })).toHaveLength(1);
    expect(await registry.metrics()).toMatch(/lanyard_proxy_policy_reloads_total\{result="success"\} 2/);
  } finally {
    store.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
