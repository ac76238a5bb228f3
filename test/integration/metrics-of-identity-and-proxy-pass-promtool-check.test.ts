/**
 * What Prometheus scrapes is valid exposition by Prometheus's own linter: `promtool check
 * metrics` on the real /metrics of a running `lanyard identity` process (after it served
 * Certify, so the counters have samples) and of running `lanyard proxy` processes (after a
 * connection through them). The proxy exports every metric of the alert rules' contract,
 * with the agreed type.
 */
import { Mesh, httpGet } from '../support/mesh-harness.js';
import { startIdentityProcess } from '../support/identity-process.js';
import { promtool, promtoolTest } from '../support/promtool.js';
import { PROXY_METRICS_CONTRACT } from '../support/proxy-metrics-contract.js';

function types(text: string): Map<string, string> {
  return new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1], m[2]]));
}

promtoolTest('the identity service /metrics passes promtool check metrics', async () => {
  const svc = await startIdentityProcess();
  try {
    const client = svc.client();
    await svc.certify(client);
    await client.certify('web.default.serviceaccount.identity.lanyard.cluster.local', 'not-a-jwt', Buffer.from('x')).catch(() => undefined);
    const text = await svc.metrics();
    expect(text).toMatch(/^grpc_server_handled_total\{.*grpc_code="OK"\} 1$/m);
    const r = await promtool(['check', 'metrics'], text);
    expect(`${r.stdout}${r.stderr}`).toBe('');
    expect(r.code).toBe(0);
  } finally {
    await svc.stop();
  }
}, 60_000);

promtoolTest('proxy /metrics pass promtool check metrics, with the contract types', async () => {
  const mesh = await Mesh.start();
  try {
    const { api, web } = await mesh.pair({ appPort: await mesh.app('api') });
    expect(await httpGet(web.outbound[0], '/hello')).toMatchObject({ status: 200 });
    await api.waitForLog({ event: 'connection', direction: 'inbound' });
    for (const proxy of [api, web]) {
      const text = await (await fetch(`http://127.0.0.1:${proxy.admin}/metrics`)).text();
      const r = await promtool(['check', 'metrics'], text);
      expect({ proxy: proxy.name, lint: `${r.stdout}${r.stderr}` }).toEqual({ proxy: proxy.name, lint: '' });
      expect(r.code).toBe(0);
      const exported = types(text);
      const present = Object.entries(PROXY_METRICS_CONTRACT).filter(([name]) => exported.has(name));
      for (const [name, type] of present) expect({ name, type: exported.get(name) }).toEqual({ name, type });
      expect(present.map(([name]) => name)).toEqual(Object.keys(PROXY_METRICS_CONTRACT));
      console.log(`proxy ${proxy.name}: ${exported.size} metric families, contract metrics present: ${present.map(([n]) => n).join(', ') || 'none yet'}`);
    }
  } finally {
    await mesh.stop();
  }
}, 90_000);
