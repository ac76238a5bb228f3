/**
 * A policy file replaced by an atomic rename (write a temp file, rename it over the old one)
 * is picked up through the directory watch alone, while connections are being judged, and
 * every decision made meanwhile comes from one complete policy: the old or the new.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyStore } from '../../proxy/policy/policy-store.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import { LogSink } from '../support/log-sink.js';

const api = { tls: true, identity: 'api.prod.serviceaccount.identity.lanyard.cluster.local', spiffeId: 'spiffe://cluster.local/ns/prod/sa/api', address: '10.1.2.3' };

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('atomic rename: reloaded by the watch, readers see old or new, never a mix', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-policy-rename-'));
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'default: deny\nports:\n  "8080":\n    allow:\n      - identities: ["web.default.serviceaccount.identity.lanyard.cluster.local"]\n');
  const logs = new LogSink();
  const registry = createRegistry();
  // The poll is far away: only the filesystem event can explain a reload within the test.
  const store = new PolicyStore({ file, pollIntervalMs: 600_000, logger: logs.logger(), registry });
  await store.start();
  const rules = new Set<string>();
  const judge = setInterval(() => {
    for (let i = 0; i < 100; i++) rules.add(store.current().authorize(api, 8080).rule);
  }, 1);
  try {
    expect(store.current().authorize(api, 8080).allow).toBe(false);
    await new Promise((r) => setTimeout(r, 50));

    writeFileSync(join(dir, '.policy.yaml.tmp'), 'default: deny\nports:\n  "8080":\n    allow:\n      - identities: ["*.prod.serviceaccount.identity.lanyard.cluster.local"]\n');
    renameSync(join(dir, '.policy.yaml.tmp'), file);
    await waitFor(() => store.current().authorize(api, 8080).allow);
    await new Promise((r) => setTimeout(r, 50));

    expect(store.current().authorize(api, 8080)).toEqual({
      allow: true,
      audit: false,
      rule: 'port:8080/allow[0] identity *.prod.serviceaccount.identity.lanyard.cluster.local',
      reason: 'identity api.prod.serviceaccount.identity.lanyard.cluster.local matched *.prod.serviceaccount.identity.lanyard.cluster.local',
    });
    expect([...rules].sort()).toEqual(['port:8080/allow[0] identity *.prod.serviceaccount.identity.lanyard.cluster.local', 'port:8080/no-match']);
    expect(logs.where({ event: 'policy_loaded', msg: 'policy reloaded' })).toHaveLength(1);
    expect(logs.where({ event: 'policy_rejected' })).toHaveLength(0);
    expect(await registry.metrics()).toMatch(/lanyard_proxy_policy_reloads_total\{result="success"\} 2/);
  } finally {
    clearInterval(judge);
    store.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
