/**
 * `lanyard discovery --static FILE` as a real process, asked by the sidecar's discovery
 * client: known addresses are meshed with their identity, unknown ones unmeshed, an edit of
 * the file reaches the client through its Watch without a new request, a bad edit is
 * refused, and a stopped service makes new lookups fail closed while cached answers stay.
 */
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLanyard, type RunningCli } from '../support/cli.js';
import { DiscoveryClient, DiscoveryUnavailableError } from '../../proxy/discovery/discovery-client.js';
import { LogSink } from '../support/log-sink.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const API = 'api.default.serviceaccount.identity.lanyard.cluster.local';

function writeAtomic(file: string, data: unknown): void {
  writeFileSync(file + '.tmp', JSON.stringify(data));
  renameSync(file + '.tmp', file);
}

async function until<T>(f: () => Promise<T>, ok: (v: T) => boolean, ms = 8000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('static discovery: resolve, watch a change, refuse a bad file, fail closed when down', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-disc-'));
  const file = join(dir, 'endpoints.json');
  writeAtomic(file, [{ address: '10.0.0.2', identity: WEB }]);
  let svc: RunningCli | null = startLanyard(['discovery', '--static', file, '--addr', '127.0.0.1:0', '--admin-addr', '127.0.0.1:0']);
  let client: DiscoveryClient | null = null;
  try {
    await svc.waitFor(/discovery service listening/);
    const addr = JSON.parse(svc.stdout().split('\n').find((l) => l.includes('discovery service listening'))!).addr as string;
    client = new DiscoveryClient({ address: addr, logger: new LogSink().logger(), resolveTimeoutMs: 1500 });

    expect(await client!.resolve('10.0.0.2', 8080)).toMatchObject({ meshed: true, identity: WEB, spiffe_id: 'spiffe://cluster.local/ns/default/sa/web', source: 'static' });
    expect(await client!.resolve('10.0.0.9', 8080)).toMatchObject({ meshed: false, identity: '', source: 'none' });

    writeAtomic(file, [{ address: '10.0.0.2', identity: API }]);
    const changed = await until(() => client!.resolve('10.0.0.2', 8080), (e) => e.identity === API);
    expect(changed.identity).toBe(API);

    writeAtomic(file, [{ address: 'not-an-ip', identity: WEB }]);
    await svc.waitFor(/endpoints_rejected/);
    expect((await client!.resolve('10.0.0.2', 8080)).identity).toBe(API);

    await svc.stop();
    svc = null;
    // A cached answer survives; a new destination fails closed.
    expect((await client!.resolve('10.0.0.2', 8080)).identity).toBe(API);
    await expect(client!.resolve('10.0.0.7', 443)).rejects.toBeInstanceOf(DiscoveryUnavailableError);
  } finally {
    client?.close();
    await svc?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
