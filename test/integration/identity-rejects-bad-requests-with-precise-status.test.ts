/**
 * Over the wire, a refused Certify carries the documented gRPC status and message, is
 * audited with its reason, is counted, and never carries a certificate.
 */
import { status } from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';
import { workloadCsr, writeIssuerDir } from '../support/test-ca.js';
import { CertifyError } from '../../proxy/identity/certify-client.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
let h: IdentityHarness;
beforeAll(async () => {
  h = await startIdentity({ pollIntervalMs: 100 });
});
afterAll(() => h.stop());

async function certifyError(identity: string, token: string | Buffer, csr: Buffer): Promise<CertifyError> {
  const err = await h.client().certify(identity, token, csr).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CertifyError);
  return err as CertifyError;
}

test.each([
  ['fail/garbage-csr', async () => [WEB, await h.tokens.mint('default', 'web'), Buffer.from('garbage')], status.INVALID_ARGUMENT, 'ERR_CSR_MALFORMED'],
  ['fail/other-service-account', async () => [WEB, await h.tokens.mint('default', 'api'), workloadCsr(WEB).csr], status.PERMISSION_DENIED, 'ERR_IDENTITY_MISMATCH'],
  ['fail/expired-token', async () => [WEB, await h.tokens.mint('default', 'web', { now: Date.now() - 7_200_000 }), workloadCsr(WEB).csr], status.UNAUTHENTICATED, 'ERR_TOKEN_EXPIRED'],
  ['fail/missing-token', async () => [WEB, '', workloadCsr(WEB).csr], status.INVALID_ARGUMENT, 'ERR_REQUEST_MALFORMED'],
] as const)('%s', async (name, build, code, reason) => {
  const [identity, token, csr] = (await build()) as [string, string, Buffer];
  const before = h.logs.where({ event: 'certify', reason }).length;
  const err = await certifyError(identity, token, csr);
  expect(status[err.code]).toBe(status[code]);
  const audit = h.logs.where({ event: 'certify', reason });
  expect(audit.length).toBe(before + 1);
  expect(audit[audit.length - 1]).toMatchObject({ result: 'refused', grpc_status: status[code], serial: null, not_after: null });
  expect(audit[audit.length - 1].message).toBe(err.details);
  expect(name).toMatch(/^fail\//);
  const metrics = await h.service.registry.metrics();
  expect(metrics).toContain(`lanyard_identity_certify_requests_total{result="refused",reason="${reason}"}`);
});

test('fail/request-over-16KiB is RESOURCE_EXHAUSTED, and counted as Linkerd counts calls', async () => {
  const handled = async () => {
    const m = /^grpc_server_handled_total\{[^}]*grpc_method="Certify"[^}]*grpc_code="ResourceExhausted"\} (\d+)/m.exec(await h.service.registry.metrics());
    return Number(m?.[1]);
  };
  const before = await handled();
  const err = await certifyError(WEB, Buffer.alloc(17 * 1024, 0x61), workloadCsr(WEB).csr);
  expect(status[err.code]).toBe('RESOURCE_EXHAUSTED');
  expect(err.details).toMatch(/larger than max/);
  // The server counts when its stream closes, which may be just after the client read the status.
  const deadline = Date.now() + 5000;
  while ((await handled()) < before + 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  expect(await handled()).toBe(before + 1);
});

test('ok/issuer files removed: the loaded issuer keeps signing and the failure is logged', async () => {
  const token = await h.tokens.mint('default', 'web');
  for (const f of ['tls.crt', 'tls.key']) rmSync(join(h.issuerDir, f));
  await h.service.issuers.reload();
  expect(h.service.issuers.current()).not.toBeNull();
  const ok = await h.client().certify(WEB, token, workloadCsr(WEB).csr);
  expect(ok.leaf_certificate.length).toBeGreaterThan(0);
  expect(h.logs.where({ event: 'issuer_rejected' }).length).toBeGreaterThanOrEqual(1);
});

test('fail/issuer-missing at start: UNAVAILABLE, /ready says why, and it recovers when the issuer appears', async () => {
  const empty = await startIdentity({ withoutIssuer: true, pollIntervalMs: 100 });
  try {
    const token = await empty.tokens.mint('default', 'web');
    const client = empty.client();
    const err = await client.certify(WEB, token, workloadCsr(WEB).csr).then(
      () => null,
      (e: unknown) => e as CertifyError,
    );
    expect(err).toBeInstanceOf(CertifyError);
    expect(status[err!.code]).toBe('UNAVAILABLE');
    const ready = await fetch(`http://127.0.0.1:${empty.adminPort}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/no valid issuer loaded from .*no issuer certificate/);

    writeIssuerDir(empty.issuerDir, empty.pki);
    const deadline = Date.now() + 5000;
    let res = null;
    while (!res && Date.now() < deadline) {
      res = await client.certify(WEB, token, workloadCsr(WEB).csr).catch(() => null);
      if (!res) await new Promise((r) => setTimeout(r, 100));
    }
    expect(res?.leaf_certificate.length).toBeGreaterThan(0);
    expect((await fetch(`http://127.0.0.1:${empty.adminPort}/ready`)).status).toBe(200);
  } finally {
    await empty.stop();
  }
});
