/**
 * LANYARD_PROXY_MAX_CONNECTIONS bounds what a flood can hold: with a limit of 20 and 60
 * plaintext (unauthenticated) connections that stay open, 42 are refused, at accept or once
 * they are known to be unauthenticated (a tenth of the limit is kept for peers with a
 * verified certificate), all counted; the 18 admitted ones keep working, and once everything
 * is closed the active gauge and the descriptor count return to where they were. Churn
 * afterwards (500 short connections, 10 at a time, then 500 at once) leaves no descriptor
 * behind either.
 */
import { connect, type Socket } from 'node:net';
import { Mesh, metric, tcpExchange, waitUntil, type ProxyProcess, type TcpApp, openConnections } from '../support/mesh-harness.js';

const LIMIT = 20;
const RESERVE = 2; // the default: a tenth of the limit, for authenticated peers only
const SHARE = LIMIT - RESERVE;
const OPEN = 60;
const CHURN = 500;

let mesh: Mesh;
let api: ProxyProcess;
let app: TcpApp;
let baselineFds: number;
beforeAll(async () => {
  mesh = await Mesh.start();
  app = await mesh.tcpApp((s) => s.pipe(s)); // echoes, and holds the connection until the peer closes
  api = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(app.port), LANYARD_PROXY_MAX_CONNECTIONS: String(LIMIT) } });
  expect((await tcpExchange(api.inbound, 'warm-up', { end: true })).data.toString()).toBe('warm-up');
  baselineFds = api.openFds();
});
afterAll(() => mesh.stop());

interface Held {
  socket: Socket;
  /** `echo` when the app answered through the proxy, `closed` when the proxy refused. */
  first: Promise<'echo' | 'closed'>;
}

function hold(i: number): Held {
  const socket = connect({ host: '127.0.0.1', port: api.inbound });
  socket.on('error', () => undefined);
  const first = new Promise<'echo' | 'closed'>((resolve) => {
    socket.once('data', (d: Buffer) => resolve(d.toString() === `hello ${i}` ? 'echo' : 'closed'));
    socket.once('close', () => resolve('closed'));
  });
  socket.write(`hello ${i}`);
  return { socket, first };
}

const active = () => openConnections(api.admin, 'inbound');

const refused = async (reason: string) => metric(api.admin, 'lanyard_proxy_connections_refused_total', { direction: 'inbound', reason });
const refusedAll = async () => (await refused('limit')) + (await refused('unauthenticated-share'));

test(`${OPEN} held connections against a limit of ${LIMIT}: ${OPEN - SHARE} refused, the rest work`, async () => {
  const held = Array.from({ length: OPEN }, (_, i) => hold(i));
  const outcomes = await Promise.all(held.map((h) => h.first));
  expect(outcomes.filter((o) => o === 'echo')).toHaveLength(SHARE);
  expect(outcomes.filter((o) => o === 'closed')).toHaveLength(OPEN - SHARE);
  // At accept (all slots taken) or once known to be unauthenticated (their share taken): which
  // one depends on when each arrived, since a slot freed by the second is taken again.
  expect(await refusedAll()).toBe(OPEN - SHARE);
  expect(await refused('unauthenticated-share')).toBeGreaterThanOrEqual(RESERVE);
  expect(await active()).toBe(SHARE);
  expect(app.sockets.size).toBe(SHARE);

  // The admitted ones still carry traffic both ways.
  const admitted = held.filter((_, i) => outcomes[i] === 'echo');
  const again = await Promise.all(
    admitted.map((h, i) => new Promise<string>((resolve) => (h.socket.once('data', (d: Buffer) => resolve(d.toString())), h.socket.write(`again ${i}`)))),
  );
  expect(again).toEqual(admitted.map((_, i) => `again ${i}`));

  for (const h of held) h.socket.destroy();
  await waitUntil(async () => (await active()) === 0, 'the active gauge back to 0');
  await waitUntil(() => api.openFds() <= baselineFds + 2, `fds back to the baseline of ${baselineFds} (now ${api.openFds()})`);
  // Refused connections never got an audit line (they were never decided); admitted ones did.
  await waitUntil(() => api.where({ event: 'connection', decision: 'allow' }).length === 1 + SHARE, 'an audit line per admitted connection');
  expect(api.where({ event: 'connection' })).toHaveLength(1 + SHARE);
});

test(`${CHURN} short connections afterwards leave no descriptor behind`, async () => {
  const refusedBefore = await refusedAll();
  let next = 0;
  let echoed = 0;
  // 10 at a time, under the limit: every one is admitted, spliced, and closed.
  await Promise.all(
    Array.from({ length: 10 }, async () => {
      while (next < CHURN) {
        const msg = `churn ${next++}`;
        const r = await tcpExchange(api.inbound, msg, { end: true });
        if (r.data.toString() === msg) echoed++;
      }
    }),
  );
  expect(echoed).toBe(CHURN);
  expect(await refusedAll()).toBe(refusedBefore);
  await waitUntil(async () => (await active()) === 0, 'the active gauge back to 0');
  await waitUntil(() => api.openFds() <= baselineFds + 2, `fds back to the baseline of ${baselineFds} (now ${api.openFds()})`);
  expect(api.alive()).toBe(true);
});

test(`a burst of ${CHURN} at once: each is served or refused, and nothing is left behind`, async () => {
  const refusedBefore = await refusedAll();
  const results = await Promise.all(Array.from({ length: CHURN }, (_, i) => tcpExchange(api.inbound, `burst ${i}`, { end: true, timeoutMs: 10_000 })));
  expect(results.filter((r) => r.closed === 'timeout')).toHaveLength(0);
  const served = results.filter((r, i) => r.data.toString() === `burst ${i}`).length;
  expect(served).toBeGreaterThanOrEqual(SHARE);
  expect(served + (await refusedAll()) - refusedBefore).toBe(CHURN);
  await waitUntil(async () => (await active()) === 0, 'the active gauge back to 0');
  await waitUntil(() => api.openFds() <= baselineFds + 2, `fds back to the baseline of ${baselineFds} (now ${api.openFds()})`);
  expect((await tcpExchange(api.inbound, 'after the burst', { end: true })).data.toString()).toBe('after the burst');
});
