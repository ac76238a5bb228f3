/**
 * `lanyard dashboard` in a real browser (Debian's headless Chromium, driven by playwright-core)
 * while two proxies carry real traffic: web → api over mTLS (allowed) and a plaintext client
 * → api (refused). The page is loaded while that traffic runs; the graph it draws follows it
 * live until its nodes and edges carry exactly the counts the proxies saw; a click on the
 * web → api edge lists that edge's audit records (one per connection: the server's inbound
 * record; the client's outbound copy is not counted twice). The page asks nothing of any
 * other origin. A screenshot is kept in test-artifacts/ (its path is printed).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { ROOT, startLanyard, type RunningCli } from '../support/cli.js';
import { Mesh, identityOf, metric, tcpExchange, waitUntil, type ProxyProcess, type TcpApp } from '../support/mesh-harness.js';
import { requires } from '../support/requires.js';

const CHROMIUM = '/usr/bin/chromium';
const API = identityOf('default', 'api');
const WEB = identityOf('default', 'web');
const browserTest = requires(CHROMIUM);

let mesh: Mesh;
let app: TcpApp;
let api: ProxyProcess;
let web: ProxyProcess;
let dashboard: RunningCli | undefined;
let browser: Browser | undefined;

browserTest.describe('the dashboard in headless Chromium', () => {
  beforeAll(async () => {
    mesh = await Mesh.start();
    app = await mesh.tcpApp((s) => s.pipe(s));
    const policy = { ports: { [String(app.port)]: { allow: [{ identities: [WEB] }] } } };
    api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(app.port), LANYARD_PROXY_POLICY: JSON.stringify(policy) } });
    web = await mesh.proxy({ name: 'web', sa: 'web', env: { LANYARD_PROXY_ROUTES: JSON.stringify([{ listen: '127.0.0.1:0', upstream: `127.0.0.1:${api.inbound}`, identity: API }]) } });
    dashboard = startLanyard(['dashboard', '--proxy', `127.0.0.1:${api.admin}`, '--proxy', `127.0.0.1:${web.admin}`, '--addr', '127.0.0.1:0', '--interval', '250ms']);
    await dashboard.waitFor(/http:\/\/127\.0\.0\.1:\d+\//, 30_000);
    // The dashboard taps both proxies; records written before it subscribed would not be in its panel.
    await waitUntil(async () => (await metric(api.admin, 'lanyard_proxy_audit_subscribers')) === 1 && (await metric(web.admin, 'lanyard_proxy_audit_subscribers')) === 1, 'the dashboard tapping both proxies', 20_000);
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu'] });
  }, 120_000);
  afterAll(async () => {
    await browser?.close();
    await dashboard?.stop();
    await mesh?.stop();
  });

  const url = () => /http:\/\/127\.0\.0\.1:\d+\//.exec(dashboard!.stdout())![0];
  const edge = (page: Page, client: string, server: string) => page.locator(`#edges .edge[data-client="${client}"][data-server="${server}"][data-port="${app.port}"]`);

  test('the graph follows live traffic between two proxies, and a clicked edge lists its records', async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 800 } });
    const foreign: string[] = [];
    page.on('request', (r) => void (new URL(r.url()).origin !== new URL(url()).origin && foreign.push(r.url())));
    const problems: string[] = [];
    page.on('pageerror', (e) => void problems.push(e.message));
    page.on('console', (m) => void (m.type() === 'error' && problems.push(m.text())));
    page.on('response', (r) => void (r.status() >= 400 && problems.push(`${r.status()} ${r.url()}`)));

    // Traffic runs while the page loads: allowed streams from web, refused plaintext from the test.
    // The panel keeps an edge's last 50 records (RecentEvents, MAX_EVENTS), so the traffic stops
    // at 40 connections: every one of them, and the one sent after the click, must be listed.
    let allowed = 0;
    let denied = 0;
    let running = true;
    const traffic = (async () => {
      while ((running || allowed < 4) && allowed < 40) {
        expect((await tcpExchange(web.outbound[0], `hello ${allowed}`, { end: true })).data.toString()).toBe(`hello ${allowed}`);
        allowed++;
        if (allowed % 2 === 0) {
          expect((await tcpExchange(api.inbound, 'plain', { end: true })).data.length).toBe(0);
          denied++;
        }
      }
    })();
    await page.goto(url());
    await page.locator('#edges .edge').first().waitFor({ timeout: 30_000 });
    running = false;
    await traffic;
    expect(allowed).toBeGreaterThanOrEqual(4);

    // The page was not reloaded: the counts it shows came over its live stream.
    const mtls = edge(page, WEB, API);
    const refused = edge(page, '127.0.0.1', API);
    await waitUntil(async () => (await mtls.getAttribute('data-allowed')) === String(allowed) && (await refused.getAttribute('data-denied')) === String(denied), `the page showing ${allowed} allowed and ${denied} denied`, 20_000);
    expect(await page.locator('#edges .edge').count()).toBe(2);
    expect(await mtls.getAttribute('data-denied')).toBe('0');
    expect(await mtls.getAttribute('class')).toBe('edge ok');
    expect(await refused.getAttribute('data-allowed')).toBe('0');
    expect(await refused.getAttribute('class')).toBe('edge denied plain');
    expect((await page.locator('#nodes .node').evaluateAll((gs) => gs.map((g) => g.getAttribute('data-id')))).sort()).toEqual(['127.0.0.1', API, WEB].sort());
    expect(await page.locator('#nodes .node.address').getAttribute('data-id')).toBe('127.0.0.1');
    expect(await mtls.locator('.label').textContent()).toBe(`:${app.port} ✓${allowed} ✗0`);
    expect(await page.locator('#status').textContent()).toMatch(/^2 of 2 proxies read · 2 edges · updated /);

    // A real click at the edge's label (a point on its curve): the hit area under the pointer takes it.
    const box = (await mtls.locator('.label').boundingBox({ timeout: 5000 }))!;
    await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2);
    await waitUntil(async () => (await page.locator('#events tbody tr').count()) === allowed, `${allowed} records in the panel`, 10_000);
    expect(await page.locator('#events-title').textContent()).toBe(`web.default → api.default :${app.port}`);
    expect(await mtls.getAttribute('class')).toBe('edge ok selected');
    const rows = await page.locator('#events tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].slice(1, 5).map((td) => td.textContent)));
    for (const r of rows) expect(r).toEqual(['inbound api.default', 'allow', `port:${app.port}/allow[0] identity ${WEB}`, 'eof']);

    // New traffic on the selected edge reaches the open panel too.
    await tcpExchange(web.outbound[0], 'one more', { end: true });
    await waitUntil(async () => (await page.locator('#events tbody tr').count()) === allowed + 1, 'the new record in the open panel', 10_000);
    const summary = `${allowed + 1} allowed, 0 denied, 0 would be denied; mTLS yes`;
    await waitUntil(async () => (await page.locator('#events-summary').textContent()) === summary, `the panel's counts following the graph: ${summary}`, 10_000);

    const dir = join(ROOT, 'test-artifacts');
    mkdirSync(dir, { recursive: true });
    const shot = join(dir, 'dashboard-live-graph.png');
    await page.screenshot({ path: shot, fullPage: true });
    process.stderr.write(`dashboard screenshot: ${shot}\n`);

    expect(foreign).toEqual([]);
    expect(problems).toEqual([]);
    await page.close();
  }, 120_000);
});
