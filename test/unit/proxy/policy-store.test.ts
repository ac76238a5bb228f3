/**
 * PolicyStore start-up and reload rules: a bad or missing file at start throws naming the
 * file and path; later a bad file is refused once, counted, and the old policy stays.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyError } from '../../../proxy/policy/policy-error.js';
import { PolicyStore } from '../../../proxy/policy/policy-store.js';
import type { PeerPolicy } from '../../../proxy/policy/peer-policy.js';
import { createRegistry, type Registry } from '../../../src/telemetry/metrics.js';
import { LogSink } from '../../support/log-sink.js';
import { plain } from './policy-fixtures.js';

let dir: string;
let stores: PolicyStore[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-policy-'));
});
afterEach(() => {
  for (const s of stores) s.stop();
  stores = [];
  rmSync(dir, { recursive: true, force: true });
});

function store(logs: LogSink, registry: Registry, extra: Partial<ConstructorParameters<typeof PolicyStore>[0]> = {}): PolicyStore {
  // A long poll and no reliance on the watch: these tests drive reload() themselves.
  const s = new PolicyStore({ file: join(dir, 'policy.yaml'), pollIntervalMs: 60_000, logger: logs.logger(), registry, ...extra });
  stores.push(s);
  return s;
}

async function count(registry: Registry, result: string): Promise<number> {
  const m = await registry.getSingleMetric('lanyard_proxy_policy_reloads_total')!.get();
  return m.values.find((v) => v.labels.result === result)?.value ?? 0;
}

test('fail/missing file at start throws naming the file', async () => {
  const logs = new LogSink();
  const registry = createRegistry();
  const file = join(dir, 'policy.yaml');
  const s = store(logs, registry);
  await expect(s.start()).rejects.toThrow(new PolicyError('ERR_POLICY_READ', '', `cannot read (ENOENT: no such file or directory, open '${file}')`, `policy file ${file}`));
  expect(logs.where({ event: 'policy_rejected' })).toHaveLength(1);
  expect(await count(registry, 'failure')).toBe(1);
  expect(() => s.current()).toThrow('PolicyStore.current() called before start() resolved');
});

test('fail/bad file at start throws naming the file and the path inside it', async () => {
  const logs = new LogSink();
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'ports:\n  "8080":\n    allow:\n      - identities: ["*"]\n      - networks: ["10.0.0.0/33"]\n');
  const err = await store(logs, createRegistry()).start().then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(PolicyError);
  expect((err as Error).message).toBe(`policy file ${file}: ports.8080.allow[1].networks[0]: "10.0.0.0/33" is not a CIDR`);
  expect(logs.where({ event: 'policy_rejected' })[0]).toMatchObject({ level: 'error', file, reason: (err as Error).message, keeping: null });
});

test('ok/without a file the policy is the environment\'s', async () => {
  const logs = new LogSink();
  const s = new PolicyStore({ overrides: { default: 'deny' }, logger: logs.logger() });
  stores.push(s);
  await s.start();
  expect(s.current().authorize(plain('10.0.0.1'), 80).rule).toBe('default:deny');
  expect(logs.where({ event: 'policy_loaded' })[0]).toMatchObject({ file: null, default: 'deny', replaced: false });
});

test('ok/overrides apply over every load; listeners see each new policy; a bad file is reported once', async () => {
  const logs = new LogSink();
  const registry = createRegistry();
  const file = join(dir, 'policy.yaml');
  writeFileSync(file, 'default: all-authenticated\n');
  const s = store(logs, registry, { overrides: { clusterNetworks: ['203.0.113.0/24'] } });
  await s.start();
  expect(s.current().summary()).toMatchObject({ default: 'all-authenticated', clusterNetworks: ['203.0.113.0/24'] });

  const seen: PeerPolicy[] = [];
  const unsubscribe = s.onChange((p) => seen.push(p));
  s.onChange(() => {
    throw new Error('listener bug');
  });
  writeFileSync(file, 'default: cluster-unauthenticated\n');
  await s.reload();
  expect(seen).toHaveLength(1);
  expect(seen[0]).toBe(s.current());
  expect(s.current().authorize(plain('203.0.113.5'), 80).allow).toBe(true);
  expect(logs.where({ event: 'policy_listener_failed' })).toHaveLength(1);

  writeFileSync(file, 'default: nope\n');
  await s.reload();
  await s.reload();
  expect(s.current()).toBe(seen[0]);
  expect(logs.where({ event: 'policy_rejected' })).toHaveLength(1);
  expect(await count(registry, 'failure')).toBe(1);

  // Back to the good file, then the same bad file again: news again, reported again.
  writeFileSync(file, 'default: cluster-unauthenticated\n');
  await s.reload();
  writeFileSync(file, 'default: nope\n');
  await s.reload();
  expect(logs.where({ event: 'policy_rejected' })).toHaveLength(2);

  unsubscribe();
  writeFileSync(file, 'default: deny\n');
  await s.reload();
  expect(seen).toHaveLength(1);
  expect(s.current().defaultPolicy).toBe('deny');
  expect(await count(registry, 'success')).toBe(3);
  expect(logs.where({ msg: 'policy reloaded' })).toHaveLength(2);
});

test('ok/an unchanged file is not reloaded', async () => {
  const logs = new LogSink();
  const registry = createRegistry();
  writeFileSync(join(dir, 'policy.yaml'), 'default: deny\n');
  const s = store(logs, registry);
  await s.start();
  const first = s.current();
  await Promise.all([s.reload(), s.reload(), s.reload()]);
  expect(s.current()).toBe(first);
  expect(await count(registry, 'success')).toBe(1);
});
