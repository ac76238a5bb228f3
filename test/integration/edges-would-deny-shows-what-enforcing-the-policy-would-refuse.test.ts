/**
 * The policy dry run, end to end. `shop` has a port with `audit: true` that lists only web:
 * web, ops (not listed) and a plaintext client all get through, and the audit flags ops and
 * the plaintext client (`decision: audit`, `would_deny: true`, the rule that would refuse
 * them), so `lanyard edges --would-deny` lists exactly those two edges. `cart` runs the
 * `audit` default policy and is only called by web: `--would-deny` shows nothing for it, so
 * switching it to all-authenticated is safe; after the switch web still gets through and a
 * plaintext client is refused.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Mesh, identityOf, nthLog, tcpExchange, type ProxyProcess, type TcpApp } from '../support/mesh-harness.js';
import { lanyard } from '../support/cli.js';

const SHOP = identityOf('default', 'shop');
const CART = identityOf('default', 'cart');
const WEB = identityOf('default', 'web');
const OPS = identityOf('default', 'ops');
let mesh: Mesh;
let app: TcpApp;
let shop: ProxyProcess;
let cart: ProxyProcess;
let web: ProxyProcess;
let ops: ProxyProcess;
let cartPolicy: string;

interface Edge {
  client: string;
  server: string;
  allowed: number;
  denied: number;
  would_deny: number;
}

beforeAll(async () => {
  mesh = await Mesh.start();
  app = await mesh.tcpApp((s) => s.pipe(s));
  const dryRun = { ports: { [String(app.port)]: { allow: [{ identities: [WEB] }], audit: true } } };
  shop = await mesh.proxy({ name: 'shop', sa: 'shop', env: { LANYARD_PROXY_APP_PORT: String(app.port), LANYARD_PROXY_POLICY: JSON.stringify(dryRun) } });
  cartPolicy = join(mesh.dir, 'cart-policy.yaml');
  writeFileSync(cartPolicy, 'default: audit\n');
  cart = await mesh.proxy({ name: 'cart', sa: 'cart', env: { LANYARD_PROXY_APP_PORT: String(app.port), LANYARD_PROXY_POLICY_FILE: cartPolicy } });
  const route = (to: ProxyProcess, identity: string) => ({ listen: '127.0.0.1:0', upstream: `127.0.0.1:${to.inbound}`, identity });
  web = await mesh.proxy({ name: 'web', sa: 'web', env: { LANYARD_PROXY_ROUTES: JSON.stringify([route(shop, SHOP), route(cart, CART)]) } });
  ops = await mesh.proxy({ name: 'ops', sa: 'ops', env: { LANYARD_PROXY_ROUTES: JSON.stringify([route(shop, SHOP)]) } });
}, 90_000);
afterAll(() => mesh.stop());

const echo = async (port: number) => (await tcpExchange(port, 'dry run', { end: true })).data.toString();
const edges = async (...flags: string[]) => {
  const r = await lanyard(['edges', ...[shop, cart, web, ops].flatMap((p) => ['--proxy', `127.0.0.1:${p.admin}`]), '-o', 'json', ...flags]);
  expect(r.code).toBe(0);
  return (JSON.parse(r.stdout) as { edges: Edge[] }).edges.map(({ client, server, allowed, denied, would_deny }) => ({ client, server, allowed, denied, would_deny }));
};

test('a dry-run port lets everyone through and flags whom enforcing would refuse', async () => {
  expect(await echo(web.outbound[0])).toBe('dry run');
  expect(await echo(ops.outbound[0])).toBe('dry run');
  expect(await echo(shop.inbound)).toBe('dry run');
  await nthLog(shop, { audit: 'v1', event: 'connection' }, 3);
  const [fromWeb, fromOps, plain] = shop.where({ audit: 'v1', event: 'connection' });
  expect(fromWeb).toMatchObject({ peer_identity: WEB, decision: 'audit', would_deny: false, rule: `port:${app.port}/allow[0] identity ${WEB}` });
  expect(fromOps).toMatchObject({
    peer_identity: OPS,
    decision: 'audit',
    would_deny: true,
    rule: `port:${app.port}/no-match`,
    reason: `no allow entry of port ${app.port} matched peer ${OPS} from 127.0.0.1 (audit: allowed, enforcing would refuse)`,
    close_reason: 'eof',
  });
  expect(plain).toMatchObject({ peer_identity: 'unauthenticated', decision: 'audit', would_deny: true, rule: `port:${app.port}/no-match` });

  expect(await edges('--would-deny')).toEqual([
    { client: '127.0.0.1', server: SHOP, allowed: 1, denied: 0, would_deny: 1 },
    { client: OPS, server: SHOP, allowed: 1, denied: 0, would_deny: 1 },
  ]);
});

test('the audit default policy: nothing would be refused, so all-authenticated is safe to switch to', async () => {
  for (let i = 0; i < 2; i++) expect(await echo(web.outbound[1])).toBe('dry run');
  await nthLog(cart, { audit: 'v1', event: 'connection' }, 2);
  expect(cart.where({ audit: 'v1', event: 'connection' }).map((r) => [r.decision, r.would_deny, r.rule])).toEqual([
    ['audit', false, 'default:audit'],
    ['audit', false, 'default:audit'],
  ]);
  expect((await edges('--would-deny')).filter((e) => e.server === CART)).toEqual([]);
  expect((await edges()).filter((e) => e.server === CART)).toEqual([{ client: WEB, server: CART, allowed: 2, denied: 0, would_deny: 0 }]);

  writeFileSync(cartPolicy, 'default: all-authenticated\n');
  await cart.waitForLog({ event: 'policy_loaded', default: 'all-authenticated' });
  expect(await echo(web.outbound[1])).toBe('dry run');
  expect(await echo(cart.inbound)).toBe('');
  await nthLog(cart, { audit: 'v1', event: 'connection' }, 4);
  expect(cart.where({ audit: 'v1', event: 'connection' }).slice(2).map((r) => [r.peer_identity, r.decision, r.rule])).toEqual([
    [WEB, 'allow', 'default:all-authenticated'],
    ['unauthenticated', 'deny', 'default:all-authenticated'],
  ]);
});
