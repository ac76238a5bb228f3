/**
 * Rotation under load: leaves live 5 seconds, traffic runs for 30 seconds (the figure;
 * LANYARD_TEST_SOAK_SECONDS changes it) through the web → api pair, half on fresh connections
 * and half on long-lived keep-alive connections, with the multiplexed transport on and off.
 * Not one request fails, each proxy installs a new certificate every few seconds, and the
 * long-lived connections outlive several certificates without being cut.
 */
import { Agent, request } from 'node:http';
import { Mesh, identityOf, httpGet, type ProxyProcess } from '../support/mesh-harness.js';

const API = identityOf('default', 'api');

function get(port: number, agent: Agent | false, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

const SOAK_MS = Number(process.env.LANYARD_TEST_SOAK_SECONDS ?? 30) * 1000;

test.each([
  ['multiplexed', 'true'],
  ['one TLS connection per connection', 'false'],
])(`5-second leaves, ${SOAK_MS / 1000} seconds of traffic, %s: zero failed requests, a rotation every few seconds`, async (_label, mux) => {
  const mesh = await Mesh.start({ lifetimeMs: 5000 });
  try {
    const apiPort = await mesh.app('api');
    const fast = { LANYARD_PROXY_MIN_REFRESH: '1s', LANYARD_PROXY_MUX: mux };
    const api: ProxyProcess = await mesh.proxy({ name: 'api', sa: 'api', env: { ...fast, LANYARD_PROXY_APP_PORT: String(apiPort), LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' } });
    const web: ProxyProcess = await mesh.proxy({
      name: 'web',
      sa: 'web',
      env: { ...fast, LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: API }]) },
    });
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    const keepAlive2 = new Agent({ keepAlive: true, maxSockets: 1 });
    let ok = 0;
    const failures: string[] = [];
    const end = Date.now() + SOAK_MS;
    const loop = async (agent: Agent | false, label: string) => {
      for (let i = 0; Date.now() < end; i++) {
        try {
          const status = await get(web.outbound[0], agent, `/${label}/${i}`);
          if (status === 200) ok++;
          else failures.push(`${label} ${i}: HTTP ${status}`);
        } catch (e) {
          failures.push(`${label} ${i}: ${(e as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await Promise.all([loop(false, 'fresh'), loop(false, 'fresh2'), loop(keepAlive, 'kept'), loop(keepAlive2, 'kept2')]);
    keepAlive.destroy();
    keepAlive2.destroy();

    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(SOAK_MS / 100);
    for (const p of [api, web]) {
      const installs = p.where({ event: 'identity_refreshed' });
      // The first certificate + a rotation at least every 6 s (70% of 5 s, jittered, plus the call).
      expect(installs.length).toBeGreaterThanOrEqual(1 + Math.floor(SOAK_MS / 6000));
      expect(new Set(installs.map((l) => l.serial)).size).toBe(installs.length);
      expect(p.where({ event: 'identity_refresh_failed' })).toEqual([]);
    }
    // The keep-alive connection carried requests across several certificates on one TCP
    // connection: its audit line appears only when it closes, after the rotations.
    const longest = () => Math.max(0, ...api.where({ event: 'connection', direction: 'inbound', decision: 'allow' }).map((l) => Number(l.duration_ms)));
    for (const deadline = Date.now() + 5000; longest() < SOAK_MS * 0.66 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 100));
    expect(longest()).toBeGreaterThan(SOAK_MS * 0.66);
    expect((await httpGet(web.outbound[0], '/after')).status).toBe(200);
  } finally {
    await mesh.stop();
  }
}, SOAK_MS + 60_000);
