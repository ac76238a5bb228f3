/**
 * A listener holds at most `maxConnections` at once: one more is closed as soon as it is
 * accepted and counted, and once a connection goes away a new one is served again.
 */
import { connect, type Socket } from 'node:net';
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';
import { workloadCsr } from '../support/test-ca.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
let h: IdentityHarness;
beforeAll(async () => {
  h = await startIdentity({ maxConnections: 3 });
});
afterAll(() => h.stop());

const dropped = async () => Number(/^lanyard_identity_connections_dropped_total\{reason="connection_limit"\} (\d+)/m.exec(await h.service.registry.metrics())?.[1]);

function open(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(h.port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

function closedWithin(s: Socket, ms: number): Promise<boolean> {
  s.resume();
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    s.once('close', () => (clearTimeout(t), resolve(true)));
  });
}

test('the fourth of three allowed connections is dropped; after one closes, Certify is served', async () => {
  const held = [await open(), await open(), await open()];
  const before = await dropped();
  const extra = await open();
  expect(await closedWithin(extra, 5000)).toBe(true);
  expect(await dropped()).toBe(before + 1);

  held[0].destroy();
  await new Promise((r) => held[0].once('close', r));
  // The server counts the closed socket on its side once it sees the FIN; Certify retries are the proxy's job.
  const deadline = Date.now() + 5000;
  let served = false;
  while (!served && Date.now() < deadline) {
    const client = h.client();
    served = await client.certify(WEB, await h.tokens.mint('default', 'web'), workloadCsr(WEB).csr).then(
      () => true,
      () => false,
    );
    client.close();
  }
  expect(served).toBe(true);
  for (const s of held) s.destroy();
});
