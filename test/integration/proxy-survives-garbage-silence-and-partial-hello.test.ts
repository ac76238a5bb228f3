/**
 * The inbound port is open to anything on the network. Random bytes are plaintext (and
 * refused under `deny`), bytes that start like TLS but are not a ClientHello are treated
 * as unauthenticated plaintext, a partial ClientHello or silence is cut off at the detect
 * timeout, a partial ClientHello followed by FIN is passed on as plaintext (FIN included),
 * and a connection closed or reset before the protocol is known is recorded as such. None
 * of it leaks a slot or a file descriptor, and mTLS keeps working.
 */
import { randomBytes } from 'node:crypto';
import { Mesh, captureClientHello, identityOf, metric, tcpExchange, waitUntil, type ProxyProcess, type TcpApp, openConnections } from '../support/mesh-harness.js';
import { connect } from 'node:net';

const ROUNDS = 20;

let mesh: Mesh;
let api: ProxyProcess;
let web: ProxyProcess;
let denier: ProxyProcess;
let app: TcpApp;
let baselineFds: number;
beforeAll(async () => {
  mesh = await Mesh.start();
  app = await mesh.tcpApp((s) => s.pipe(s)); // echo
  ({ api, web } = await mesh.pair({ appPort: app.port, apiEnv: { LANYARD_PROXY_DETECT_TIMEOUT: '500ms' } }));
  denier = await mesh.proxy({ name: 'denier', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(app.port), LANYARD_PROXY_DEFAULT_POLICY: 'deny' } });
  // Warm up every path once (TLS contexts, the app connection) before counting descriptors.
  expect((await tcpExchange(web.outbound[0], 'warm-up', { end: true })).data.toString()).toBe('warm-up');
  baselineFds = api.openFds();
});
afterAll(() => mesh.stop());

/** Random bytes that cannot be mistaken for a TLS handshake record. */
const garbage = (n: number) => {
  const b = randomBytes(n);
  b[0] = 0x42;
  return b;
};

test('random bytes are plaintext: unauthenticated, delivered to the app byte for byte', async () => {
  const payloads = Array.from({ length: ROUNDS }, (_, i) => garbage(1000 + i));
  const results = await Promise.all(payloads.map((p) => tcpExchange(api.inbound, p, { end: true })));
  results.forEach((r, i) => expect(r.data.equals(payloads[i])).toBe(true)); // echoed through the proxy
  for (const p of payloads) {
    expect(await api.waitForLog({ event: 'connection', bytes_rx: p.length })).toMatchObject({
      tls: false,
      peer_identity: 'unauthenticated',
      decision: 'allow',
      rule: 'default:all-unauthenticated',
      bytes_tx: p.length,
      close_reason: 'eof',
    });
  }
  expect(await metric(api.admin, 'lanyard_proxy_inbound_detect_total', { outcome: 'plaintext' })).toBe(ROUNDS);
});

test('bytes that start like TLS but are no ClientHello are unauthenticated plaintext too', async () => {
  const notHello = Buffer.concat([Buffer.from([0x16, 0x03, 0x01, 0x00, 0x00]), garbage(3000)]); // a record of length 0
  const r = await tcpExchange(api.inbound, notHello, { end: true });
  expect(r.data.equals(notHello)).toBe(true);
  expect(await api.waitForLog({ event: 'connection', bytes_rx: notHello.length })).toMatchObject({ tls: false, peer_identity: 'unauthenticated', decision: 'allow' });
  expect(await metric(api.admin, 'lanyard_proxy_inbound_detect_total', { outcome: 'malformed' })).toBe(1);
});

test('under deny, random bytes are refused and never reach the app', async () => {
  const before = app.received.length;
  const r = await tcpExchange(denier.inbound, garbage(500));
  expect(r.data.length).toBe(0);
  expect(['end', 'ECONNRESET']).toContain(r.closed);
  expect(await denier.waitForLog({ event: 'connection' })).toMatchObject({
    audit: 'v1',
    tls: false,
    decision: 'deny',
    rule: 'default:deny',
    reason: 'deny refuses every peer',
    close_reason: 'policy-deny',
  });
  expect(app.received.length).toBe(before);
  expect(denier.alive()).toBe(true);
});

test('a partial ClientHello, or silence, is closed at the detect timeout (500ms)', async () => {
  const hello = await captureClientHello({ servername: identityOf('default', 'api') });
  const before = app.received.length;
  const started = performance.now();
  const results = await Promise.all(
    Array.from({ length: ROUNDS }, async (_, i) => {
      // Half send the first 40 bytes of a real ClientHello, half send nothing at all.
      const r = await tcpExchange(api.inbound, i % 2 ? hello.subarray(0, 40) : Buffer.alloc(0), { timeoutMs: 5000 });
      return { ...r, ms: performance.now() - started };
    }),
  );
  for (const r of results) {
    expect(r.closed).not.toBe('timeout'); // the proxy closed it, long before our 5 s
    expect(r.data.length).toBe(0);
    expect(r.ms).toBeGreaterThanOrEqual(450);
  }
  await waitUntil(() => api.where({ audit: 'v1', close_reason: 'detect-timeout' }).length === ROUNDS, 'an audit line per timed-out connection');
  for (const line of api.where({ audit: 'v1', close_reason: 'detect-timeout' })) {
    expect(line).toMatchObject({ decision: 'deny', tls: false, rule: 'detect', reason: 'no protocol detected before the detect timeout', bytes_rx: 0 });
    expect(line.duration_ms).toBeGreaterThanOrEqual(490);
    expect(line.duration_ms).toBeLessThan(3000);
  }
  expect(await metric(api.admin, 'lanyard_proxy_inbound_detect_total', { outcome: 'timeout' })).toBe(ROUNDS);
  expect(app.received.length).toBe(before);
});

test('a connection closed at once is recorded as peer-closed', async () => {
  await Promise.all(
    Array.from({ length: ROUNDS }, () => new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: api.inbound }, () => s.end());
      s.on('error', () => undefined);
      s.once('close', () => resolve());
    })),
  );
  await waitUntil(() => api.where({ audit: 'v1', close_reason: 'peer-closed' }).length === ROUNDS, 'an audit line per closed connection');
  expect(api.where({ audit: 'v1', close_reason: 'peer-closed' })[0]).toMatchObject({ decision: 'deny', reason: 'closed before sending anything', bytes_rx: 0 });
  expect(await metric(api.admin, 'lanyard_proxy_inbound_detect_total', { outcome: 'closed' })).toBe(ROUNDS);
});

test('a partial ClientHello, then FIN, is passed on as plaintext, FIN included', async () => {
  const part = (await captureClientHello({ servername: identityOf('default', 'api') })).subarray(0, 41);
  const results = await Promise.all(Array.from({ length: ROUNDS }, () => tcpExchange(api.inbound, part, { end: true })));
  // The echo app answered only because the bytes and the FIN both reached it.
  for (const r of results) expect(r).toEqual({ data: part, closed: 'end' });
  await waitUntil(() => api.where({ event: 'connection', bytes_rx: part.length }).length === ROUNDS, 'an audit line per connection');
  expect(api.where({ event: 'connection', bytes_rx: part.length })[0]).toMatchObject({ tls: false, decision: 'allow', peer_identity: 'unauthenticated', close_reason: 'eof' });
});

test('a partial ClientHello, then a reset, is peer-closed and counted', async () => {
  const part = (await captureClientHello({ servername: identityOf('default', 'api') })).subarray(0, 42);
  // A reset discards what the proxy had not read yet: on a busy machine some of the 42 bytes
  // never reach it, and the line says the connection closed before sending anything.
  const reasons = ['closed after 42 bytes, before the protocol was known', 'closed before sending anything'];
  const lines = () => api.where({ audit: 'v1', event: 'connection' }).filter((l) => reasons.includes(String(l.reason)));
  const before = lines().length;
  await Promise.all(
    Array.from({ length: ROUNDS }, () => new Promise<void>((resolve) => {
      const s = connect({ host: '127.0.0.1', port: api.inbound }, () => {
        s.write(part);
        setTimeout(() => s.resetAndDestroy(), 20);
      });
      s.on('error', () => undefined);
      s.once('close', () => resolve());
    })),
  );
  await waitUntil(() => lines().length === before + ROUNDS, 'an audit line per reset connection');
  const reset = lines().slice(before);
  for (const line of reset) expect(line).toMatchObject({ audit: 'v1', decision: 'deny', close_reason: 'peer-closed', bytes_rx: 0 });
  expect(reset.some((l) => l.reason === reasons[0])).toBe(true);
});

test('afterwards no descriptor has leaked, nothing is active, and mTLS still works', async () => {
  // Nothing but web's multiplexed session from the warm-up, which a session holds until idle.
  await waitUntil(async () => (await openConnections(api.admin, 'inbound')) === 1, 'no active inbound connection but the session');
  await waitUntil(() => api.openFds() <= baselineFds + 2, `fds back to the baseline of ${baselineFds}`);
  expect(api.alive()).toBe(true);
  const r = await tcpExchange(web.outbound[0], 'still here', { end: true });
  expect(r.data.toString()).toBe('still here');
  expect(await api.waitForLog({ event: 'connection', bytes_rx: 'still here'.length, tls: true })).toMatchObject({ peer_identity: identityOf('default', 'web'), decision: 'allow' });
});
