/**
 * `lanyard certify` is a client: its --addr comes from LANYARD_PROXY_IDENTITY_ADDR (the
 * variable a proxy dials), never from LANYARD_IDENTITY_ADDR, which is where the service
 * listens (`0.0.0.0:8080` or `:8080` there is not an address to dial).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lanyard } from '../support/cli.js';
import { createTestPki } from '../support/test-ca.js';

let dir: string;
let closedPort: number;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-certify-addr-'));
  writeFileSync(join(dir, 'ca.crt'), (await createTestPki()).anchor.certPem);
  writeFileSync(join(dir, 'web.token'), 'x.y.z\n');
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  closedPort = (probe.address() as { port: number }).port;
  await new Promise<void>((r) => probe.close(() => r()));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const certify = (env: Record<string, string>) =>
  lanyard(['certify', '--ns', 'default', '--sa', 'web', '--token-file', join(dir, 'web.token'), '--out-dir', join(dir, 'out'), '--trust-anchors', join(dir, 'ca.crt')], env);

test('the server listen variable is ignored; the client variable is dialled', async () => {
  const r = await certify({ LANYARD_IDENTITY_ADDR: ':8080', LANYARD_PROXY_IDENTITY_ADDR: `127.0.0.1:${closedPort}` });
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(new RegExp(`^lanyard: 127\\.0\\.0\\.1:${closedPort}: Certify failed: UNAVAILABLE`));
}, 30_000);

test('a bad client variable is a usage error naming it', async () => {
  const r = await certify({ LANYARD_PROXY_IDENTITY_ADDR: ':8080' });
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^lanyard: --addr \(env LANYARD_PROXY_IDENTITY_ADDR\): a host is needed to connect to/);
}, 30_000);

test('--help names the client variable, not the server one', async () => {
  const r = await lanyard(['certify', '--help']);
  expect(r.stdout).toContain('env: LANYARD_PROXY_IDENTITY_ADDR');
  expect(r.stdout).not.toContain('LANYARD_IDENTITY_ADDR');
}, 30_000);
