/**
 * What an existing Linkerd install reads, the identity service exports under Linkerd's
 * names and labels: go-grpc-prometheus's `grpc_server_*` for Certify (as Linkerd's identity
 * controller exports them) and `issuer_cert_ttl_seconds`. Lanyard's own metrics keep
 * `lanyard_*` names, `result` labels say ok | refused | error, and `lanyard_build_info` says
 * what runs.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../support/cli.js';
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';
import { workloadCsr } from '../support/test-ca.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const CERTIFY = 'grpc_type="unary",grpc_service="io.linkerd.proxy.identity.Identity",grpc_method="Certify"';

let h: IdentityHarness;
beforeAll(async () => {
  h = await startIdentity();
});
afterAll(() => h.stop());

function sample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (!line) throw new Error(`no sample ${series} in:\n${text}`);
  return Number(line.slice(series.length + 1));
}

test('Certify calls are counted as Linkerd counts them, and by Lanyard result', async () => {
  const client = h.client();
  await client.certify(WEB, await h.tokens.mint('default', 'web'), workloadCsr(WEB).csr);
  await client.certify(WEB, await h.tokens.mint('default', 'api'), workloadCsr(WEB).csr).catch(() => undefined);
  await client.certify(WEB, 'not-a-jwt', workloadCsr(WEB).csr).catch(() => undefined);
  // The server counts a call when its stream closes, which may follow the client's answer.
  let text = '';
  const deadline = Date.now() + 5000;
  do text = await h.service.registry.metrics();
  while (sample(text, `grpc_server_handled_total{${CERTIFY},grpc_code="Unauthenticated"}`) < 1 && Date.now() < deadline);

  expect(sample(text, `grpc_server_started_total{${CERTIFY}}`)).toBe(3);
  expect(sample(text, `grpc_server_handled_total{${CERTIFY},grpc_code="OK"}`)).toBe(1);
  expect(sample(text, `grpc_server_handled_total{${CERTIFY},grpc_code="PermissionDenied"}`)).toBe(1);
  expect(sample(text, `grpc_server_handled_total{${CERTIFY},grpc_code="Unauthenticated"}`)).toBe(1);
  // Every code exists from the start, at zero, as go-grpc-prometheus makes them.
  expect(sample(text, `grpc_server_handled_total{${CERTIFY},grpc_code="Unavailable"}`)).toBe(0);
  expect(sample(text, `grpc_server_msg_received_total{${CERTIFY}}`)).toBe(3);
  expect(sample(text, `grpc_server_msg_sent_total{${CERTIFY}}`)).toBe(1);
  expect(sample(text, `grpc_server_handling_seconds_count{${CERTIFY}}`)).toBe(3);
  expect(text).toMatch(/^# TYPE grpc_server_handling_seconds histogram$/m);

  expect(sample(text, 'lanyard_identity_certify_requests_total{result="ok",reason="issued"}')).toBe(1);
  expect(sample(text, 'lanyard_identity_certify_requests_total{result="refused",reason="ERR_IDENTITY_MISMATCH"}')).toBe(1);
  expect(sample(text, 'lanyard_identity_certify_requests_total{result="refused",reason="ERR_TOKEN_MALFORMED"}')).toBe(1);
  const results = new Set([...text.matchAll(/^lanyard_\w+\{[^}]*result="([^"]+)"/gm)].map((m) => m[1]));
  expect([...results].every((r) => ['ok', 'refused', 'error'].includes(r))).toBe(true);
});

test("the issuer's remaining life is issuer_cert_ttl_seconds, as Linkerd's identity controller exports it", async () => {
  const text = await h.service.registry.metrics();
  const ttl = sample(text, 'issuer_cert_ttl_seconds');
  const notAfter = h.service.issuers.current()!.notAfter.getTime();
  expect(Math.abs(ttl - (notAfter - Date.now()) / 1000)).toBeLessThan(60);
  expect(sample(text, 'lanyard_identity_issuer_expiry_timestamp_seconds')).toBe(notAfter / 1000);
});

test('lanyard_build_info says which version and runtime run', async () => {
  const text = await h.service.registry.metrics();
  const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  expect(sample(text, `lanyard_build_info{version="${version}",node_version="${process.versions.node}",component="identity"}`)).toBe(1);
});
