/**
 * The proxy's Certify client (bare HTTP/2) against the real identity service: a wrong
 * expected name or a foreign anchor is refused before any request is sent, a closed port is
 * UNAVAILABLE, a hung server hits the deadline, and a server error comes back with its code.
 */
import { createServer as createTlsServer, type Socket } from 'node:net';
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';
import { createTestPki, workloadCsr } from '../support/test-ca.js';
import { CertifyClient, CertifyError } from '../../proxy/identity/certify-client.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
let h: IdentityHarness;
beforeAll(async () => {
  h = await startIdentity();
});
afterAll(() => h.stop());

async function failure(client: CertifyClient): Promise<CertifyError> {
  const token = await h.tokens.mint('default', 'web');
  const err = await client.certify(WEB, token, workloadCsr(WEB).csr).then(() => null, (e: unknown) => e);
  client.close();
  expect(err).toBeInstanceOf(CertifyError);
  return err as CertifyError;
}

test('fail/unexpected server name', async () => {
  const e = await failure(h.client({ serverName: 'impostor.lanyard.serviceaccount.identity.lanyard.cluster.local' }));
  expect(e.codeName).toBe('UNAVAILABLE');
  expect(e.details).toMatch(/is not impostor\.lanyard/);
});

test('fail/foreign trust anchor', async () => {
  const other = await createTestPki();
  const e = await failure(h.client({ anchorsPem: other.anchor.certPem }));
  expect(e.codeName).toBe('UNAVAILABLE');
  expect(e.details).toMatch(/certificate rejected/);
});

test('fail/nothing listening', async () => {
  const e = await failure(new CertifyClient({ address: '127.0.0.1:1', serverName: 'x', trustAnchorsPem: h.pki.anchor.certPem }));
  expect(e.codeName).toBe('UNAVAILABLE');
  expect(e.details).toMatch(/ECONNREFUSED/);
});

test('fail/server accepts but never answers: DEADLINE_EXCEEDED, and the client gives up its connection', async () => {
  // Reads (and drops) what the client sends, answers nothing, and notices when the client leaves.
  const accepted: Socket[] = [];
  const hang = createTlsServer((s) => {
    accepted.push(s);
    s.resume();
  });
  await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
  const port = (hang.address() as { port: number }).port;
  const started = Date.now();
  const e = await failure(new CertifyClient({ address: `127.0.0.1:${port}`, serverName: 'x', trustAnchorsPem: h.pki.anchor.certPem, timeoutMs: 400 }));
  expect(e.codeName).toBe('DEADLINE_EXCEEDED');
  expect(Date.now() - started).toBeLessThan(3000);
  expect(accepted.length).toBeGreaterThan(0);
  await Promise.all(accepted.map((s) => new Promise((r) => (s.closed ? r(null) : s.once('close', r)))));
  await new Promise((r) => hang.close(r));
});

test('ok/server status and message come back intact, and the connection is reused', async () => {
  const client = h.client();
  const token = await h.tokens.mint('default', 'web');
  const e = await client.certify(WEB, token, Buffer.from('garbage')).catch((x: CertifyError) => x);
  expect((e as CertifyError).codeName).toBe('INVALID_ARGUMENT');
  expect((e as CertifyError).details).toMatch(/^certificate_signing_request: not a DER PKCS#10 request/);
  const ok = await client.certify(WEB, token, workloadCsr(WEB).csr);
  expect(ok.intermediate_certificates).toHaveLength(1);
});
