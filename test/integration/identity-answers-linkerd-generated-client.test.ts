/**
 * A client generated from Linkerd's proto file (camelCase fields, Long timestamps, its own
 * loader options) certifies against Lanyard unchanged, over TLS, in Linkerd mode
 * (control namespace `linkerd`, audience `identity.l5d.io`).
 */
import { X509Certificate } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { startIdentity, type IdentityHarness } from '../support/identity-harness.js';
import { workloadCsr } from '../support/test-ca.js';

const here = dirname(fileURLToPath(import.meta.url));

test('Linkerd-generated client gets a leaf for a Linkerd identity name', async () => {
  let h: IdentityHarness | null = null;
  const def = protoLoader.loadSync(join(here, '..', 'support', 'linkerd', 'identity.proto'), { keepCase: false, longs: String, defaults: false });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { io: { linkerd: { proxy: { identity: { Identity: grpc.ServiceClientConstructor } } } } };
  try {
    const harness = await startIdentity({ controlNamespace: 'linkerd', validatorFor: (t) => t.validator({ audience: 'identity.l5d.io' }) });
    h = harness;
    const Identity = pkg.io.linkerd.proxy.identity.Identity;
    const client = new Identity(`127.0.0.1:${harness.port}`, grpc.credentials.createSsl(Buffer.from(harness.pki.anchor.certPem)), {
      'grpc.ssl_target_name_override': harness.service.servingIdentity,
    });
    expect(harness.service.servingIdentity).toBe('lanyard-identity.linkerd.serviceaccount.identity.linkerd.cluster.local');
    const identity = 'web.emojivoto.serviceaccount.identity.linkerd.cluster.local';
    const token = await harness.tokens.mint('emojivoto', 'web', { audience: 'identity.l5d.io' });
    const res = await new Promise<{ leafCertificate: Buffer; intermediateCertificates: Buffer[]; validUntil: { seconds: string } }>((resolve, reject) =>
      (client as unknown as { Certify: Function }).Certify(
        { identity, token: Buffer.from(token), certificateSigningRequest: workloadCsr(identity).csr },
        (err: Error | null, r: never) => (err ? reject(err) : resolve(r)),
      ),
    );
    client.close();
    const leaf = new X509Certificate(res.leafCertificate);
    expect(leaf.subjectAltName).toBe(`DNS:${identity}, URI:spiffe://cluster.local/ns/emojivoto/sa/web`);
    expect(res.intermediateCertificates).toHaveLength(1);
    expect(Number(res.validUntil.seconds) * 1000).toBe(Date.parse(leaf.validTo));
  } finally {
    await h?.stop();
  }
});
