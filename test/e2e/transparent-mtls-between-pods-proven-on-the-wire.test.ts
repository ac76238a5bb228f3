/**
 * The transparent mesh, end to end, in real network namespaces with real iptables:
 *
 *   pod A (web) ──curl 10.77.0.11:8080──▶ [A's iptables → A's proxy :4140]
 *       ══ mutual TLS on the wire ══▶ [B's iptables → B's proxy :4143] ──▶ B's app :8080
 *
 * Proven: (1) curl with no proxy settings reaches B; (2) a capture on the bridge holds TLS
 * records between A and B and never the request's marker in clear; (3) both proxies' audit
 * lines name the other's identity; (4) an identity B's policy does not allow is refused and
 * audited with the rule; (5) an unmeshed pod reaches B only while B's policy allows
 * unauthenticated peers; (6) B's proxy delivers to B's own address, so a port B's app bound
 * to 127.0.0.1 stays private even when the policy admits the peer; (7) a blackholed path
 * between A and B is found by A's mux keepalive and the session replaced once the path is
 * back; (8) the Kubernetes discovery source, fed by the fake API server's watch stream,
 * changes what A's proxy expects without a restart; plus the bad inputs: a
 * direct (not redirected) connection to 4140 is refused, and the proxy's own traffic is never
 * redirected back into itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { E2E_NEEDS, NS_PREFIX, sh } from './support/netns.js';
import { requires } from '../support/requires.js';
import { curl, identityOf, NamespaceMesh, type MeshPod } from './support/mesh-in-namespaces.js';

const need = requires(...E2E_NEEDS);
const skip = need.missing;
const WEB = identityOf('web');
const API = identityOf('api');
const INTRUDER = identityOf('intruder');

const policy = (allowUnauthenticated: boolean) =>
  JSON.stringify({ default: 'deny', ports: { '8080': { allow: [{ identities: [WEB] }, ...(allowUnauthenticated ? [{ unauthenticated: true }] : [])] } } });

let mesh: NamespaceMesh;
let a: MeshPod;
let b: MeshPod;
let c: MeshPod;
let d: MeshPod;

beforeAll(async () => {
  if (skip) return;
  mesh = new NamespaceMesh(`${NS_PREFIX}-${process.pid}`);
  await mesh.startControlPlane();
  const policyFile = mesh.writeFile('api-policy.json', policy(false));
  b = await mesh.pod('b', 11, 'api', { LANYARD_PROXY_POLICY_FILE: policyFile });
  a = await mesh.pod('a', 10, 'web', { LANYARD_PROXY_KEEPALIVE: '2s' });
  c = await mesh.pod('c', 12, 'intruder');
  d = await mesh.pod('d', 13, null);
}, 90_000);

afterAll(async () => {
  if (!skip) await mesh.destroy();
}, 30_000);

/** A scenario: skipped with the reason printed when the machine cannot run it (a failure under CI=true). */
function e2e(name: string, fn: () => Promise<void>, timeout = 30_000): void {
  need.test(name, fn, timeout);
}

e2e('(1)+(2)+(3) curl A → B works with no proxy settings; the wire carries only TLS; both audits name the peer', async () => {
  const marker = `lanyard-marker-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const pcap = join(mesh.dir, 'bridge.pcap');
  // On every port of the bridge (a bridge device itself only sees frames addressed to it).
  const capture: ChildProcess = spawn('ip', ['netns', 'exec', mesh.topo.switchNs, 'tcpdump', '-Z', 'root', '-i', 'any', '-U', '-s', '0', '-w', pcap, 'host', a.ip, 'and', 'host', b.ip], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve) => capture.stderr!.on('data', (s: Buffer) => String(s).includes('listening on') && resolve()));
  // "listening on" comes a moment before packets are delivered: probe until the capture grows.
  const size = () => (existsSync(pcap) ? statSync(pcap).size : 0);
  for (let i = 0; i < 50 && size() <= 24; i++) {
    curl(a, `http://${b.ip}:9/probe`, 1);
    await new Promise((r) => setTimeout(r, 100));
  }
  const res = curl(a, `http://${b.ip}:8080/${marker}`);
  // Wait for the application-data records of the exchange to reach the file.
  const appData = Buffer.from([0x17, 0x03, 0x03]);
  for (let i = 0; i < 50 && readFileSync(pcap).lastIndexOf(appData) < 0; i++) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 200));
  capture.kill('SIGINT');
  await new Promise((r) => capture.once('exit', r));

  expect(res).toEqual({ code: 0, body: `b: GET /${marker}\n` });

  const bytes = readFileSync(pcap);
  expect(bytes.length).toBeGreaterThan(500);
  expect(bytes.includes(Buffer.from(marker))).toBe(false);
  expect(bytes.includes(Buffer.from('GET /'))).toBe(false);
  // TLS 1.3 records: a ClientHello (0x16 0x03 0x01) and application data (0x17 0x03 0x03).
  expect(bytes.includes(Buffer.from([0x16, 0x03, 0x01]))).toBe(true);
  expect(bytes.includes(Buffer.from([0x17, 0x03, 0x03]))).toBe(true);

  const inbound = await b.proxy!.waitFor({ event: 'connection', direction: 'inbound', peer_identity: WEB, port: 8080 });
  expect(inbound).toMatchObject({ local_identity: API, tls: true, decision: 'allow', port: 8080, dst: `${b.ip}:8080`, close_reason: 'eof' });
  expect(String(inbound.src)).toMatch(new RegExp(`^${a.ip.replace(/\./g, '\\.')}:\\d+$`));
  const outbound = await a.proxy!.waitFor({ event: 'connection', direction: 'outbound', peer_identity: API, port: 8080 });
  expect(outbound).toMatchObject({ local_identity: WEB, tls: true, decision: 'allow', dst: `${b.ip}:8080`, rule: 'discovery' });
  // No redirect loop: exactly one outbound connection from A's proxy for this request.
  expect(a.proxy!.where({ event: 'connection', direction: 'outbound', port: 8080 })).toHaveLength(1);
});

e2e('(4) an identity B does not allow is refused and audited with the rule', async () => {
  const res = curl(c, `http://${b.ip}:8080/steal`);
  expect(res.code).not.toBe(0);
  const denied = await b.proxy!.waitFor({ event: 'connection', direction: 'inbound', peer_identity: INTRUDER });
  expect(denied).toMatchObject({ decision: 'deny', rule: 'port:8080/no-match', tls: true, close_reason: 'policy-deny' });
});

e2e('(5) an unmeshed pod reaches B only while B allows unauthenticated peers', async () => {
  expect(curl(d, `http://${b.ip}:8080/plain-1`).code).not.toBe(0);
  const denied = await b.proxy!.waitFor({ event: 'connection', direction: 'inbound', peer_identity: 'unauthenticated', decision: 'deny' });
  expect(denied).toMatchObject({ tls: false, rule: 'port:8080/no-match' });

  mesh.writeFile('api-policy.json', policy(true));
  await b.proxy!.waitFor({ event: 'policy_loaded' });
  for (let i = 0; i < 20 && b.proxy!.where({ event: 'policy_loaded' }).length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  const ok = curl(d, `http://${b.ip}:8080/plain-2`);
  expect(ok).toEqual({ code: 0, body: 'b: GET /plain-2\n' });
  const allowed = await b.proxy!.waitFor({ event: 'connection', direction: 'inbound', peer_identity: 'unauthenticated', decision: 'allow' });
  expect(allowed.rule).toBe('port:8080/allow[1] unauthenticated');
  mesh.writeFile('api-policy.json', policy(false));
});

e2e('(6) inbound goes to the pod address: a port B bound to 127.0.0.1 is unreachable from A, even when allowed', async () => {
  const secret = mesh.topo.spawn(b.netns, [process.execPath, '-e', "require('net').createServer((s)=>s.end('loopback secret\\n')).listen(9099,'127.0.0.1',()=>console.log('up'))"]);
  await new Promise<void>((resolve) => secret.stdout!.once('data', () => resolve()));
  mesh.writeFile('api-policy.json', JSON.stringify({ default: 'deny', ports: { '8080': { allow: [{ identities: [WEB] }] }, '9099': { allow: [{ identities: [WEB] }] } } }));
  const loaded = b.proxy!.where({ event: 'policy_loaded' }).length;
  for (let i = 0; i < 50 && b.proxy!.where({ event: 'policy_loaded' }).length <= loaded; i++) await new Promise((r) => setTimeout(r, 100));
  try {
    const res = curl(a, `http://${b.ip}:9099/`, 3);
    expect(res.body).not.toContain('loopback secret');
    const line = await b.proxy!.waitFor({ event: 'connection', direction: 'inbound', port: 9099 });
    expect(line).toMatchObject({ peer_identity: WEB, decision: 'allow', dst: `${b.ip}:9099`, close_reason: 'app-connect:ECONNREFUSED' });
    // What listens on the pod's address is still reached.
    expect(curl(a, `http://${b.ip}:8080/public`)).toEqual({ code: 0, body: 'b: GET /public\n' });
  } finally {
    secret.kill();
    mesh.writeFile('api-policy.json', policy(false));
  }
});

e2e('(7) a blackholed path from A to B: the mux session is dropped by keepalive, replaced when the path is back', async () => {
  expect(curl(a, `http://${b.ip}:8080/before-blackhole`)).toEqual({ code: 0, body: 'b: GET /before-blackhole\n' });
  // Sessions are kept per upstream: the one to B's port 8080 is the one this path uses (scenario
  // 6 may have left another, to 9099, whose keepalive can fire first).
  const dropped = (l: Record<string, unknown>) => l.event === 'mux_session_closed' && l.reason === 'keepalive-timeout' && l.upstream === `${b.ip}:8080`;
  const closedBefore = a.proxy!.lines.filter(dropped).length;
  const rules = [['INPUT', '-s'], ['OUTPUT', '-d']];
  for (const [chain, dir] of rules) sh(['iptables', '-I', chain, dir, a.ip, '-j', 'DROP'], { netns: b.netns });
  try {
    await a.proxy!.waitUntil((l) => dropped(l) && a.proxy!.lines.filter(dropped).length > closedBefore);
  } finally {
    for (const [chain, dir] of rules) sh(['iptables', '-D', chain, dir, a.ip, '-j', 'DROP'], { netns: b.netns });
  }
  expect(curl(a, `http://${b.ip}:8080/after-blackhole`)).toEqual({ code: 0, body: 'b: GET /after-blackhole\n' });
});

e2e('(8) Kubernetes discovery changes what A expects, without a restart', async () => {
  // B's pod now claims another service account: A asks for api-v2 (SNI), which B's proxy is
  // not, so B passes the TLS through to its app and A's handshake fails: refused, no data.
  await mesh.kube({ op: 'setServiceAccount', namespace: 'default', name: 'b', sa: 'api-v2' });
  await a.proxy!.waitFor({ event: 'discovery_changed', identity: identityOf('api-v2') });
  expect(curl(a, `http://${b.ip}:8080/after-change`).code).not.toBe(0);
  const mismatch = await a.proxy!.waitFor({ event: 'connection', direction: 'outbound', decision: 'deny', expected_identity: identityOf('api-v2') });
  expect(mismatch).toMatchObject({ peer_identity: 'unauthenticated', expected_identity: identityOf('api-v2'), bytes_tx: 0, bytes_rx: 0 });
  expect(String(mismatch.reason)).toMatch(/upstream/);
  const passedThrough = await b.proxy!.waitUntil((l) => l.event === 'connection' && String(l.reason).includes('passed through'));
  expect(String(passedThrough.reason)).toMatch(/^TLS for api-v2\.default\.serviceaccount\.identity\.lanyard\.cluster\.local passed through/);

  await mesh.kube({ op: 'setServiceAccount', namespace: 'default', name: 'b', sa: 'api' });
  await a.proxy!.waitFor({ event: 'discovery_changed', identity: API });
  expect(curl(a, `http://${b.ip}:8080/restored`)).toEqual({ code: 0, body: 'b: GET /restored\n' });

  // B deleted from the API: A sees an unmeshed destination and sends plain TCP, which B's
  // proxy (still there, policy: identities only) refuses as unauthenticated.
  await mesh.kube({ op: 'deletePod', namespace: 'default', name: 'b' });
  await a.proxy!.waitFor({ event: 'discovery_changed', meshed: false });
  expect(curl(a, `http://${b.ip}:8080/deleted`).code).not.toBe(0);
  const plain = await a.proxy!.waitFor({ event: 'connection', direction: 'outbound', tls: false });
  expect(plain.reason).toMatch(/unmeshed destination/);
});

e2e('bad input: a connection straight to 4140 (not redirected) is refused with a clear log line', async () => {
  expect(curl(a, 'http://127.0.0.1:4140/direct').code).not.toBe(0);
  await a.proxy!.waitFor({ event: 'not_redirected' });
  const refused = await a.proxy!.waitFor({ event: 'connection', direction: 'outbound', close_reason: 'refused' });
  expect(String(refused.reason)).toMatch(/no original destination: the connection was not redirected by iptables/);
});
