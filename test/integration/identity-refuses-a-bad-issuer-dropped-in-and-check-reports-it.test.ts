/**
 * A bad issuer dropped into the issuer directory (a Secret volume swap) is refused with its
 * code, logged and counted once, the old issuer keeps signing, and `lanyard check` on the
 * directory fails naming it: a key that does not match the certificate, an expired issuer,
 * one signed by a foreign anchor, and a certificate that is not a CA.
 */
import { X509Certificate } from 'node:crypto';
import { createIssuer } from '../../certs/ca.js';
import { lanyard } from '../support/cli.js';
import { workloadLeaf } from '../support/mesh-harness.js';
import { startRotationMesh, type RotationMesh } from '../support/rotation.js';
import { createTestPki, workloadCsr, type TestPki } from '../support/test-ca.js';
import { until } from '../support/until.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const DAY = 86_400_000;

let good: TestPki;
let r: RotationMesh;
beforeAll(async () => {
  good = await createTestPki({ issuerCn: 'issuer-good' });
  r = await startRotationMesh(good, { pollIntervalMs: 200 });
});
afterAll(() => r.mesh.stop());

type Bad = { issuer: { certPem: string; keyPem: string }; bundle?: string };
const cases: [string, string, () => Promise<Bad>][] = [
  ['a key that does not match', 'ERR_ISSUER_KEY_MISMATCH', async () => ({ issuer: { certPem: good.issuer.certPem, keyPem: (await createTestPki()).issuer.keyPem } })],
  [
    'an expired issuer',
    'ERR_ISSUER_EXPIRED',
    async () => ({ issuer: await createIssuer({ commonName: 'issuer-expired', caCertPem: good.anchor.certPem, caKeyPem: good.anchor.keyPem, validityDays: 1, notBefore: new Date(Date.now() - 3 * DAY) }) }),
  ],
  ['one signed by a foreign anchor', 'ERR_ISSUER_CHAIN', async () => ({ issuer: (await createTestPki({ anchorCn: 'root.foreign.example', issuerCn: 'issuer-foreign' })).issuer })],
  [
    'a certificate that is not a CA',
    'ERR_ISSUER_NOT_CA',
    async () => {
      const leaf = await workloadLeaf({ issuerCert: good.issuerCert, issuerKey: good.issuerKey, ns: 'default', sa: 'web' });
      return { issuer: { certPem: leaf.certPem + good.issuer.certPem, keyPem: leaf.keyPem } };
    },
  ],
];

test.each(cases)('%s: refused (%s), the old issuer keeps signing, check fails naming it', async (_name, code, make) => {
  const bad = await make();
  const rejected = () => r.mesh.identity.logs.where({ event: 'issuer_rejected', code });
  r.setIssuer({ issuer: { ...good.issuer, ...bad.issuer } }, bad.bundle ?? good.anchor.certPem);
  await until(() => rejected().length === 1, `the issuer refused with ${code}`);
  expect(rejected()[0]).toMatchObject({ level: 'error', keeping: good.issuerCert.fingerprint256 });

  const token = await r.mesh.identity.tokens.mint('default', 'web');
  const res = await r.mesh.identity.client().certify(WEB, token, workloadCsr(WEB).csr);
  expect(new X509Certificate(res.intermediate_certificates[0]).fingerprint256).toBe(good.issuerCert.fingerprint256);
  expect(await r.mesh.identity.service.registry.metrics()).toMatch(/lanyard_identity_issuer_reloads_total\{result="refused"\} [1-9]/);

  const check = await lanyard(['check', '--issuer', r.issuerDir, '-o', 'json']);
  expect(check.code).toBe(2);
  const report = JSON.parse(check.stdout) as { status: string; categories: { checks: { id: string; status: string; details?: string[] }[] }[] };
  const failed = report.categories.flatMap((c) => c.checks).filter((c) => c.status === 'fail');
  expect(failed.length).toBeGreaterThan(0);
  expect(failed.flatMap((c) => c.details ?? []).join('\n')).toContain(code);
}, 60_000);
