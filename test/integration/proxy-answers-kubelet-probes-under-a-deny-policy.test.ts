/**
 * A meshed pod whose inbound policy is `deny` stays probe-able: the kubelet's plaintext
 * probe to the app's port is refused (as it must be), but the probes injection moved to the
 * admin port are run by the proxy against the app, with the pod spec's path and headers,
 * and report the app's real state: ready, failing (its status), hung (bounded by
 * timeoutSeconds, concurrent callers sharing one attempt) and gone. The TCP probe tests
 * the app, not the proxy. The env is exactly what `lanyard inject` writes for the pod; the
 * caller's path, query and headers are never forwarded.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { injectConfigFrom } from '../../src/inject/inject-config.js';
import { applyPatch } from '../../src/inject/json-patch.js';
import { planInjection, type PodTemplate } from '../../src/inject/pod-patch.js';
import { loadValues } from '../../src/install/load-values.js';
import { Mesh, tcpExchange, type ProxyProcess } from '../support/mesh-harness.js';

let mesh: Mesh;
let proxy: ProxyProcess;
let app: Server;
let appPort: number;
let answer: 'ok' | 'fail' | 'hang' = 'ok';
const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
let probePaths: Record<'readiness' | 'liveness', string>;

/** What the kubelet does with a rewritten probe: GET the admin port at the probe's path. */
async function kubeletProbe(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${proxy.admin}${path}`, { headers: { 'user-agent': 'kube-probe/1.30', ...headers }, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text() };
}

beforeAll(async () => {
  mesh = await Mesh.start();
  app = createServer((req, res) => {
    seen.push({ url: req.url!, headers: req.headers });
    if (answer === 'hang') return; // never answers
    res.writeHead(answer === 'ok' ? 200 : 503, { 'x-app-secret': 'not for the caller' });
    res.end(answer === 'ok' ? 'app is fine\n' : 'app is broken\n');
  });
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  appPort = (app.address() as AddressInfo).port;

  // The pod as its owner wrote it, injected as `lanyard inject` does.
  const pod: PodTemplate = {
    spec: {
      containers: [
        {
          name: 'web',
          image: 'shop/web:1',
          ports: [{ name: 'http', containerPort: appPort }],
          readinessProbe: { httpGet: { path: '/healthz?deep=1', port: 'http', httpHeaders: [{ name: 'X-Probe', value: 'kubelet' }] }, timeoutSeconds: 2 },
          livenessProbe: { tcpSocket: { port: appPort } },
        },
      ],
    },
  };
  const decision = planInjection(pod, injectConfigFrom(loadValues('0.1.0', {}), null));
  if (decision.action !== 'inject') throw new Error(decision.reason);
  const injected = applyPatch(pod, decision.ops);
  const web = injected.spec!.containers![0] as any;
  probePaths = { readiness: web.readinessProbe.httpGet.path, liveness: web.livenessProbe.httpGet.path };
  const proxySpec = injected.spec!.containers!.find((c) => c.name === 'lanyard-proxy') as { env: { name: string; value?: string }[] };
  const probesEnv = proxySpec.env.find((e) => e.name === 'LANYARD_PROXY_APP_PROBES')!.value!;

  proxy = await mesh.proxy({
    name: 'web',
    sa: 'web',
    env: { LANYARD_PROXY_APP_PORT: String(appPort), LANYARD_PROXY_DEFAULT_POLICY: 'deny', LANYARD_PROXY_APP_PROBES: probesEnv, LANYARD_POD_IP: '127.0.0.1' },
  });
}, 60_000);

afterAll(async () => {
  await mesh?.stop();
  app?.closeAllConnections();
  await new Promise<void>((r) => (app ? app.close(() => r()) : r()));
});

test("fail/the kubelet's plaintext probe to the app's port is refused by the deny policy", async () => {
  const before = seen.length;
  const res = await tcpExchange(proxy.inbound, 'GET /healthz HTTP/1.1\r\nHost: pod\r\nUser-Agent: kube-probe/1.30\r\n\r\n');
  expect(res.data.length).toBe(0);
  expect(await proxy.waitForLog({ event: 'connection', tls: false, decision: 'deny' })).toMatchObject({ rule: 'default:deny', close_reason: 'policy-deny' });
  expect(seen.length).toBe(before);
});

test('ok/the rewritten readiness probe reaches the app with the spec’s path and headers, and reports 200', async () => {
  expect(probePaths).toEqual({ readiness: '/app-health/web/readiness', liveness: '/app-health/web/liveness' });
  answer = 'ok';
  const before = seen.length;
  const res = await kubeletProbe(probePaths.readiness, { 'x-caller': 'evil' });
  expect(res).toEqual({ status: 200, body: 'application answered 200\n' });
  const got = seen.slice(before);
  expect(got.map((r) => r.url)).toEqual(['/healthz?deep=1']);
  expect(got[0].headers['x-probe']).toBe('kubelet');
  expect(got[0].headers['user-agent']).toMatch(/^kube-probe\//);
  // Nothing the caller sent is forwarded, and nothing the app sent but its status comes back.
  expect(got[0].headers['x-caller']).toBeUndefined();
  expect(res.body).not.toContain('app is fine');
});

test("ok/a failing app fails the probe with its own status", async () => {
  answer = 'fail';
  expect((await kubeletProbe(probePaths.readiness)).status).toBe(503);
  expect(await proxy.waitForLog({ event: 'app_probe', path: probePaths.readiness, result: 'refused' })).toMatchObject({ status: 503, port: appPort });
});

test('ok/a hung app fails the probe within its timeoutSeconds', async () => {
  answer = 'hang';
  const before = seen.length;
  // Bounded by the probe's own timeout (2 s): the caller's 10 s abort would throw instead.
  // Twenty callers at once share one attempt: a flood on the admin port is not one on the app.
  const answers = await Promise.all(Array.from({ length: 20 }, () => kubeletProbe(probePaths.readiness)));
  for (const res of answers) {
    expect(res.status).toBe(503);
    expect(res.body).toMatch(/no answer within 2000 ms/);
  }
  expect(seen.length - before).toBe(1);
  answer = 'ok';
});

test('ok/the TCP liveness probe tests the app: 200 while it listens, 503 once it is gone; unknown paths are 404', async () => {
  expect((await kubeletProbe(probePaths.liveness)).status).toBe(200);
  expect((await kubeletProbe('/app-health/web/startup')).status).toBe(404);
  expect((await kubeletProbe('/app-health/other/readiness')).status).toBe(404);
  app.closeAllConnections();
  await new Promise<void>((r) => app.close(() => r()));
  const live = await kubeletProbe(probePaths.liveness);
  expect(live.status).toBe(503);
  expect(live.body).toMatch(/ECONNREFUSED/);
  expect((await kubeletProbe(probePaths.readiness)).status).toBe(503);
  // The proxy's own probes are unaffected by the app's.
  expect((await fetch(`http://127.0.0.1:${proxy.admin}/ready`)).status).toBe(200);
});
