/**
 * A policy mounted from a ConfigMap is updated by kubelet's atomic writer: a new timestamped
 * directory, then `..data` renamed to point at it. The file the proxy reads is a symlink
 * through `..data`, so its own directory entry never changes; the store must still see it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyStore } from '../../proxy/policy/policy-store.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import { LogSink } from '../support/log-sink.js';
import { writeSecretVolume } from '../support/secret-volume.js';

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('ConfigMap ..data swap: the new policy is loaded, twice in a row', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'lanyard-policy-cm-')), 'policy');
  writeSecretVolume(dir, { 'policy.yaml': 'default: all-unauthenticated\n' });
  const logs = new LogSink();
  const registry = createRegistry();
  const store = new PolicyStore({ file: join(dir, 'policy.yaml'), pollIntervalMs: 600_000, logger: logs.logger(), registry });
  await store.start();
  const peer = { tls: false, identity: null, spiffeId: null, address: '8.8.8.8' };
  try {
    expect(store.current().authorize(peer, 80).rule).toBe('default:all-unauthenticated');

    writeSecretVolume(dir, { 'policy.yaml': 'default: cluster-unauthenticated\n' });
    await waitFor(() => store.current().defaultPolicy === 'cluster-unauthenticated');
    expect(store.current().authorize(peer, 80)).toMatchObject({ allow: false, rule: 'default:cluster-unauthenticated', reason: 'address 8.8.8.8 is not in the cluster networks' });

    writeSecretVolume(dir, { 'policy.yaml': '{"default": "audit"}' });
    await waitFor(() => store.current().defaultPolicy === 'audit');
    expect(store.current().authorize(peer, 80)).toMatchObject({ allow: true, audit: true, rule: 'default:audit' });

    expect(logs.where({ event: 'policy_loaded' }).map((l) => l.default)).toEqual(['all-unauthenticated', 'cluster-unauthenticated', 'audit']);
    expect(logs.where({ event: 'policy_rejected' })).toHaveLength(0);
    expect(await registry.metrics()).toMatch(/lanyard_proxy_policy_reloads_total\{result="success"\} 3/);
  } finally {
    store.stop();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});
