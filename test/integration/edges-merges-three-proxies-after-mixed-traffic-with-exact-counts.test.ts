/**
 * `lanyard edges` over three real proxies after mixed traffic: web → api allowed (3, over
 * the multiplexed transport), ops → api refused by api's policy (2), a plaintext client
 * straight at api's inbound refused (1), and web → an unmeshed destination (2). Each
 * connection is one edge count exactly once, although both the client's and the server's
 * proxy saw it: api's inbound view speaks for its edges, web's and ops's outbound rows
 * towards api are superseded, and web's row to the unmeshed address is the only view of that
 * edge. The same report as a table and as Graphviz DOT (checked by `dot -Tsvg`).
 */
import { spawnSync } from 'node:child_process';
import { Mesh, identityOf, nthLog, tcpExchange, type ProxyProcess, type TcpApp } from '../support/mesh-harness.js';
import { lanyard } from '../support/cli.js';
import { requires } from '../support/requires.js';

const API = identityOf('default', 'api');
const WEB = identityOf('default', 'web');
const OPS = identityOf('default', 'ops');
const PAYLOAD = 'twelve bytes';
let mesh: Mesh;
let app: TcpApp;
let api: ProxyProcess;
let web: ProxyProcess;
let ops: ProxyProcess;

beforeAll(async () => {
  mesh = await Mesh.start();
  app = await mesh.tcpApp((s) => s.pipe(s)); // echoes, closes after the peer's FIN
  const policy = { ports: { [String(app.port)]: { allow: [{ identities: [WEB] }] } } };
  api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(app.port), LANYARD_PROXY_POLICY: JSON.stringify(policy) } });
  const toApi = { listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: API };
  web = await mesh.proxy({ name: 'web', sa: 'web', env: { LANYARD_PROXY_ROUTES: JSON.stringify([toApi, { listen: '127.0.0.1:0', upstream: `127.0.0.1:${app.port}`, unmeshed: true }]) } });
  ops = await mesh.proxy({ name: 'ops', sa: 'ops', env: { LANYARD_PROXY_ROUTES: JSON.stringify([toApi]) } });

  for (let i = 0; i < 3; i++) expect((await tcpExchange(web.outbound[0], PAYLOAD, { end: true })).data.toString()).toBe(PAYLOAD);
  for (let i = 0; i < 2; i++) expect((await tcpExchange(ops.outbound[0], PAYLOAD, { end: true })).data.length).toBe(0);
  expect((await tcpExchange(api.inbound, 'GET / HTTP/1.0\r\n\r\n', { end: true })).data.length).toBe(0);
  for (let i = 0; i < 2; i++) expect((await tcpExchange(web.outbound[1], PAYLOAD, { end: true })).data.toString()).toBe(PAYLOAD);

  // Every connection has closed and been counted, on both sides.
  await nthLog(api, { audit: 'v1', event: 'connection', direction: 'inbound' }, 6);
  await nthLog(web, { audit: 'v1', event: 'connection', direction: 'outbound' }, 5);
  await nthLog(ops, { audit: 'v1', event: 'connection', direction: 'outbound' }, 2);
}, 90_000);
afterAll(() => mesh.stop());

const sources = () => [api, web, ops].flatMap((p) => ['--proxy', `127.0.0.1:${p.admin}`]);

interface Edge {
  client: string;
  server: string;
  port: number;
  allowed: number;
  denied: number;
  would_deny: number;
  bytes_client_to_server: number;
  bytes_server_to_client: number;
  mtls: boolean;
  last_seen: string;
  seen_by: { proxy: string; direction: string }[];
}

test('one row per (client, server, port), each connection counted once', async () => {
  const r = await lanyard(['edges', ...sources(), '-o', 'json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const report = JSON.parse(r.stdout) as { edges: Edge[]; superseded: number; sources: { identity: string; error: string | null }[]; other: { allowed: number; denied: number } };
  expect(report.sources.map((s) => [s.identity, s.error])).toEqual([
    [API, null],
    [WEB, null],
    [OPS, null],
  ]);
  const n = PAYLOAD.length;
  const counts = report.edges.map(({ client, server, port, allowed, denied, would_deny, bytes_client_to_server, bytes_server_to_client, mtls, seen_by }) => ({
    client,
    server,
    port,
    allowed,
    denied,
    would_deny,
    bytes: [bytes_client_to_server, bytes_server_to_client],
    mtls,
    seen_by: seen_by.map((s) => s.direction),
  }));
  expect(counts).toEqual([
    { client: '127.0.0.1', server: API, port: app.port, allowed: 0, denied: 1, would_deny: 0, bytes: [0, 0], mtls: false, seen_by: ['inbound'] },
    { client: OPS, server: API, port: app.port, allowed: 0, denied: 2, would_deny: 0, bytes: [0, 0], mtls: true, seen_by: ['inbound'] },
    { client: WEB, server: '127.0.0.1', port: app.port, allowed: 2, denied: 0, would_deny: 0, bytes: [2 * n, 2 * n], mtls: false, seen_by: ['outbound'] },
    { client: WEB, server: API, port: app.port, allowed: 3, denied: 0, would_deny: 0, bytes: [3 * n, 3 * n], mtls: true, seen_by: ['inbound'] },
  ]);
  // web's and ops's own rows towards api saw the same connections: left out, and counted as such.
  expect(report.superseded).toBe(2);
  expect(report.other).toMatchObject({ allowed: 0, denied: 0 });
  for (const e of report.edges) expect(Date.parse(e.last_seen)).toBeLessThanOrEqual(Date.now());
});

test('the client alone still shows its own view (outbound), since no source speaks for api', async () => {
  const r = await lanyard(['edges', '--proxy', `127.0.0.1:${ops.admin}`, '-o', 'json']);
  const report = JSON.parse(r.stdout) as { edges: Edge[] };
  // ops's outbound view: the streams api refused, on the port ops dialled (api's inbound listener).
  expect(report.edges.map((e) => [e.client, e.server, e.port, e.allowed, e.denied])).toEqual([[OPS, API, api.inbound, 0, 2]]);
});

test('the table names identities short and shows the counts', async () => {
  const r = await lanyard(['edges', ...sources()]);
  expect(r.code).toBe(0);
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines[0].split(/\s{2,}/)).toEqual(['CLIENT', 'SERVER', 'PORT', 'ALLOWED', 'DENIED', 'WOULD-DENY', 'BYTES C→S', 'BYTES S→C', 'MTLS', 'LAST SEEN']);
  const rows = lines.slice(1).map((l) => l.split(/\s{2,}/).slice(0, 9));
  expect(rows).toEqual([
    ['127.0.0.1', 'api.default', String(app.port), '0', '1', '0', '0 B', '0 B', 'no'],
    ['ops.default', 'api.default', String(app.port), '0', '2', '0', '0 B', '0 B', 'yes'],
    ['web.default', '127.0.0.1', String(app.port), '2', '0', '0', '24 B', '24 B', 'no'],
    ['web.default', 'api.default', String(app.port), '3', '0', '0', '36 B', '36 B', 'yes'],
  ]);
});

test('--would-deny: nothing here ran under a dry-run rule', async () => {
  const r = await lanyard(['edges', ...sources(), '--would-deny', '-o', 'json']);
  expect((JSON.parse(r.stdout) as { edges: Edge[] }).edges).toEqual([]);
});

const graphviz = requires('dot');
graphviz.test('-o dot is a graph Graphviz renders, with a node per identity or address and an edge per row', async () => {
  const r = await lanyard(['edges', ...sources(), '-o', 'dot']);
  expect(r.code).toBe(0);
  const svg = spawnSync('dot', ['-Tsvg'], { input: r.stdout, encoding: 'utf8' });
  expect(svg.stderr).toBe('');
  expect(svg.status).toBe(0);
  expect(svg.stdout.match(/<g id="node\d+" class="node">/g)).toHaveLength(4); // 127.0.0.1, api, ops, web
  expect(svg.stdout.match(/<g id="edge\d+" class="edge">/g)).toHaveLength(4);
  expect(r.stdout).toContain(`"${OPS}" -> "${API}" [label=":${app.port}\\nallowed 0, denied 2", color=red];`);
  expect(r.stdout).toContain(`"${WEB}" -> "127.0.0.1" [label=":${app.port}\\nallowed 2, denied 0", color=darkgreen, style=dashed];`);
});
