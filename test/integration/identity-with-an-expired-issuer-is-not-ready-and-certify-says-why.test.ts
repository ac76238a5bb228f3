/**
 * An issuer that expires while the identity service runs: at its NotAfter (not at the next
 * reload) the service logs it, /ready turns 503 naming the expiry, Certify answers
 * UNAVAILABLE with the same reason, and every issuer status stream is told at once
 * (ready=false, the reason), so proxies do not chase a re-issue that cannot succeed.
 */
import { X509Certificate } from 'node:crypto';
import { startIdentity } from '../support/identity-harness.js';
import { createTestPki, workloadCsr } from '../support/test-ca.js';
import { GrpcError, GrpcStatus } from '../../proxy/grpc/grpc-channel.js';
import type { IssuerStatusMessage } from '../../src/proto/issuer-status-codec.js';
import { until } from '../support/until.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';

test('expired issuer: not ready, Certify UNAVAILABLE with the reason, streams told', async () => {
  const pki = await createTestPki({ issuerValidityMs: 5000 });
  const h = await startIdentity({ pki, lifetimeMs: 2000 });
  try {
    const client = h.client();
    const token = await h.tokens.mint('default', 'web');
    const ok = await client.certify(WEB, token, workloadCsr(WEB).csr);
    expect(new X509Certificate(ok.leaf_certificate).issuer).toBe(pki.issuerCert.subject);
    expect((await fetch(`http://127.0.0.1:${h.adminPort}/ready`)).status).toBe(200);

    const statuses: IssuerStatusMessage[] = [];
    const watch = client.watchIssuer(WEB, { onStatus: (s) => void statuses.push(s), onEnd: () => undefined });
    await until(() => statuses.length >= 1, 'the first status');
    expect(statuses[0]).toMatchObject({ ready: true, issuer_fingerprint_sha256: pki.issuerCert.fingerprint256, reason: '' });

    await until(() => h.logs.where({ event: 'issuer_expired' }).length === 1, 'the expiry logged', 15_000);
    await until(() => statuses.some((s) => !s.ready), 'a not-ready status on the stream');
    const told = statuses.find((s) => !s.ready)!;
    expect(told.reason).toMatch(/^issuer .* expired at /);
    expect(told.issuer_fingerprint_sha256).toBe(pki.issuerCert.fingerprint256);

    const ready = await fetch(`http://127.0.0.1:${h.adminPort}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.text()).toMatch(/expired at/);
    const refused = await client.certify(WEB, token, workloadCsr(WEB).csr).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(GrpcError);
    expect((refused as GrpcError).code).toBe(GrpcStatus.UNAVAILABLE);
    expect((refused as GrpcError).details).toMatch(/expired at/);
    watch.cancel();
  } finally {
    await h.stop();
  }
}, 30_000);
