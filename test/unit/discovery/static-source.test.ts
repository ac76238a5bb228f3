/**
 * The static endpoints file as a source: start fails naming the file when it is missing or
 * bad; an edit announces exactly the addresses whose answer changed; a bad edit is refused
 * once and the entries in force stay.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustDomain } from '../../../src/pki/names.js';
import { StaticSource } from '../../../src/discovery/static-source.js';
import type { EndpointChange } from '../../../src/discovery/endpoint.js';
import { LogSink } from '../../support/log-sink.js';
import { until } from '../../support/until.js';

const td = new TrustDomain('cluster.local', 'lanyard');
const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const API = 'api.default.serviceaccount.identity.lanyard.cluster.local';
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-static-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const replace = (file: string, data: unknown) => {
  writeFileSync(`${file}.tmp`, typeof data === 'string' ? data : JSON.stringify(data));
  renameSync(`${file}.tmp`, file);
};

test('fail/start names a missing file, and a bad file by its entry', async () => {
  const file = join(dir, 'endpoints.json');
  await expect(new StaticSource({ file, trustDomain: td, logger: new LogSink().logger() }).start()).rejects.toThrow(`--static ${file}: ENOENT`);
  replace(file, [{ address: 'nope', identity: WEB }]);
  await expect(new StaticSource({ file, trustDomain: td, logger: new LogSink().logger() }).start()).rejects.toThrow(`${file}[0].address: expected an IP address, got "nope"`);
});

test('ok/an edit announces the changed addresses; a bad edit is refused once and the entries stay', async () => {
  const file = join(dir, 'endpoints.json');
  replace(file, [
    { address: '10.0.0.1', identity: WEB },
    { address: '10.0.0.2', identity: WEB },
  ]);
  const logs = new LogSink();
  const source = new StaticSource({ file, trustDomain: td, logger: logs.logger(), pollIntervalMs: 600_000 });
  const changes: EndpointChange[] = [];
  source.onChange((c) => changes.push(c));
  expect(source.ready()).toBe(false);
  await source.start();
  try {
    expect(source.ready()).toBe(true);
    expect(changes).toEqual(['all']);
    replace(file, [
      { address: '10.0.0.1', identity: WEB },
      { address: '10.0.0.2', identity: API },
      { address: '10.0.0.3', port: 5432, identity: API },
    ]);
    await until(() => changes.length === 2, 'the edit announced');
    expect([...(changes[1] as ReadonlySet<string>)].sort()).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(source.lookup('::ffff:10.0.0.3', 5432)).toMatchObject({ meshed: true, identity: API, spiffeId: 'spiffe://cluster.local/ns/default/sa/api' });
    expect(source.lookup('10.0.0.3', 80)).toBeNull();

    replace(file, '[{"address": "10.0.0.1"}]');
    await until(() => logs.where({ event: 'endpoints_rejected' }).length === 1, 'the bad edit refused');
    await source.reload();
    expect(logs.where({ event: 'endpoints_rejected' })).toHaveLength(1);
    expect(logs.where({ event: 'endpoints_rejected' })[0].reason).toBe(`${file}[0].identity: required`);
    expect(source.lookup('10.0.0.2', 80)?.identity).toBe(API);
    expect(changes).toHaveLength(2);
  } finally {
    await source.stop();
  }
});
