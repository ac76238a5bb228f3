/**
 * The sidecar's discovery Watch against `lanyard discovery --static FILE` as a real process
 * that is then SIGSTOPped: its TCP connection stays open, but it answers nothing. With a 1 s
 * keepalive the client drops the silent channel (no PING answer) and its Watch fails, new
 * destinations fail closed while cached answers stay, reconnecting is bounded too (a stopped
 * process still accepts TCP in its backlog, but sends no SETTINGS), and after SIGCONT the
 * Watch is re-established: a later edit of the file reaches the client without a new request.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiscoveryClient, DiscoveryUnavailableError } from '../../proxy/discovery/discovery-client.js';
import { startLanyard, type RunningCli } from '../support/cli.js';
import { LogSink } from '../support/log-sink.js';
import { waitUntil } from '../support/mesh-harness.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const API = 'api.default.serviceaccount.identity.lanyard.cluster.local';

function writeAtomic(file: string, data: unknown): void {
  writeFileSync(file + '.tmp', JSON.stringify(data));
  renameSync(file + '.tmp', file);
}

let dir: string;
let svc: RunningCli;
let client: DiscoveryClient | null = null;
const sink = new LogSink();

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-disc-ka-'));
  writeAtomic(join(dir, 'endpoints.json'), [{ address: '10.0.0.2', identity: WEB }]);
  svc = startLanyard(['discovery', '--static', join(dir, 'endpoints.json'), '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
  await svc.waitFor(/discovery service listening/);
});
afterAll(async () => {
  client?.close();
  svc.child.kill('SIGCONT');
  await svc.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a stopped discovery server is detected by keepalive; the Watch fails closed, then comes back', async () => {
  const addr = JSON.parse(svc.stdout().split('\n').find((l) => l.includes('discovery service listening'))!).addr as string;
  client = new DiscoveryClient({ address: addr, logger: sink.logger(), resolveTimeoutMs: 1000, keepaliveMs: 1000, connectTimeoutMs: 1000, retryMs: 100 });
  expect(await client.resolve('10.0.0.2', 8080)).toMatchObject({ meshed: true, identity: WEB });

  svc.child.kill('SIGSTOP');
  try {
    await waitUntil(() => sink.where({ event: 'discovery_stream_failed' }).length > 0, 'the Watch to fail after the server stopped answering', 15_000);
    expect(sink.where({ event: 'discovery_stream_failed' })[0]).toMatchObject({ destination: '10.0.0.2:8080', cached: true, error: `UNAVAILABLE: ${addr}: the peer answered no PING within 1000 ms` });
    // Reconnecting to the stopped process is bounded as well: it accepts TCP but sends no SETTINGS.
    await waitUntil(() => sink.where({ event: 'discovery_stream_failed' }).some((l) => String(l.error).includes('no HTTP/2 SETTINGS from the peer within 1000 ms')), 'a bounded reconnect attempt', 15_000);
    expect((await client.resolve('10.0.0.2', 8080)).identity).toBe(WEB); // cached
    await expect(client.resolve('10.0.0.7', 443)).rejects.toBeInstanceOf(DiscoveryUnavailableError); // fails closed
  } finally {
    svc.child.kill('SIGCONT');
  }

  // Re-established: an edit reaches the client through the Watch, with no new request.
  writeAtomic(join(dir, 'endpoints.json'), [{ address: '10.0.0.2', identity: API }]);
  await waitUntil(() => sink.where({ event: 'discovery_changed', identity: API }).length > 0, 'the change to arrive on a re-established Watch', 20_000);
  expect((await client.resolve('10.0.0.2', 8080)).identity).toBe(API);
}, 60_000);
