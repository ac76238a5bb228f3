/**
 * LANYARD_PROXY_AUDIT_FILE under load, rotated twice the way logrotate does it (rename the
 * file, then SIGHUP the proxy): every connection's record is in exactly one of the three
 * files, every line is a whole v1 record, the proxy creates each new file 0640, and its
 * stdout carries the diagnostic log but no audit record.
 */
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Mesh, identityOf, tcpExchange, waitUntil, type ProxyProcess } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');
let mesh: Mesh;
let api: ProxyProcess;
let web: ProxyProcess;
let dir: string;
let file: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-audit-file-'));
  file = join(dir, 'audit.log');
  mesh = await Mesh.start();
  const app = await mesh.tcpApp((s) => s.pipe(s));
  api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(app.port), LANYARD_PROXY_AUDIT_FILE: file } });
  web = await mesh.proxy({ name: 'web', sa: 'web', env: { LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: API }]) } });
}, 60_000);
afterAll(async () => {
  await mesh.stop();
  rmSync(dir, { recursive: true, force: true });
});

const lines = (path: string): string[] => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').slice(0, -1) : []);

test('two rotations under load: no line lost, none torn, none duplicated', async () => {
  let completed = 0;
  let sent = 0;
  let running = true;
  // Four clients, each connecting again as soon as its last connection closed. Connection n
  // sends n bytes, so its record is the one with bytes_rx n.
  const load = Array.from({ length: 4 }, async () => {
    while (running) {
      const payload = 'x'.repeat(++sent);
      const r = await tcpExchange(web.outbound[0], payload, { end: true });
      expect(r.data.length).toBe(payload.length);
      completed++;
    }
  });
  const rotate = async (to: string) => {
    const before = api.where({ event: 'audit_reopened' }).length;
    renameSync(file, to);
    api.child.kill('SIGHUP');
    await waitUntil(() => api.where({ event: 'audit_reopened' }).length === before + 1, 'the proxy reopened its audit file');
    await waitUntil(() => lines(file).length >= 20, 'records in the new file', 20_000);
  };
  await waitUntil(() => lines(file).length >= 20, 'records in the first file', 20_000);
  await rotate(`${file}.2`);
  await rotate(`${file}.1`);
  running = false;
  await Promise.all(load);

  const all = [`${file}.2`, `${file}.1`, file].map(lines);
  await waitUntil(() => [`${file}.2`, `${file}.1`, file].map(lines).flat().length === completed, `${completed} records in the three files`, 20_000);
  const records = [`${file}.2`, `${file}.1`, file].map(lines).flat().map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(all.every((f) => f.length >= 20)).toBe(true);
  expect(records.every((r) => r.audit === 'v1' && r.event === 'connection' && r.decision === 'allow' && r.close_reason === 'eof')).toBe(true);
  // Each connection exactly once: connection n's record is the only one with n bytes.
  expect(records.map((r) => r.bytes_rx as number).sort((a, b) => a - b)).toEqual(Array.from({ length: completed }, (_, i) => i + 1));
  expect(completed).toBeGreaterThanOrEqual(60);

  // The proxy made each file itself: owner read-write, group read.
  for (const f of [`${file}.2`, `${file}.1`, file]) expect(statSync(f).mode & 0o777).toBe(0o640);
  expect(api.where({ audit: 'v1' })).toEqual([]);
  expect(api.where({ event: 'proxy_ready' })).toHaveLength(1);
}, 120_000);
