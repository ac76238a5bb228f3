/**
 * The whole Certify path with the `kubernetes` validator: the identity service asks a fake
 * API server (real JSON, reached through @kubernetes/client-node and a kubeconfig) to review
 * the token, and issues a leaf only for the service account the API server names.
 */
import { status } from '@grpc/grpc-js';
import { X509Certificate } from 'node:crypto';
import { K8sTokenValidator } from '../../src/identity/validators/k8s-token-validator.js';
import { startFakeKubeEnv } from '../support/fake-kube-env.js';
import { startIdentity } from '../support/identity-harness.js';
import { workloadCsr } from '../support/test-ca.js';
import { CertifyError } from '../../proxy/identity/certify-client.js';

test('TokenReview-backed Certify: issued for the reviewed account, UNAVAILABLE when the API server fails', async () => {
  const env = await startFakeKubeEnv();
  const validator = new K8sTokenValidator({ kubeconfigPath: env.kubeconfig, logger: env.logger, requestTimeoutMs: 800 });
  const h = await startIdentity({ validator });
  try {
    env.api.addToken('web-token', { username: 'system:serviceaccount:default:web', audiences: ['identity.lanyard.io'] });
    const id = 'web.default.serviceaccount.identity.lanyard.cluster.local';
    const client = h.client();
    const res = await client.certify(id, 'web-token', workloadCsr(id).csr);
    expect(new X509Certificate(res.leaf_certificate).subjectAltName).toContain(`DNS:${id}`);
    expect(env.api.requestCount('tokenreviews')).toBe(1);
    expect(env.api.requestCount('selfsubjectaccessreviews')).toBe(1);

    const denied = await client.certify('api.default.serviceaccount.identity.lanyard.cluster.local', 'web-token', workloadCsr('api.default.serviceaccount.identity.lanyard.cluster.local').csr).catch((e: CertifyError) => e);
    expect(status[(denied as CertifyError).code]).toBe('PERMISSION_DENIED');

    env.api.fault('tokenreviews', { status: 500, times: 1 });
    const unavailable = await client.certify(id, 'web-token', workloadCsr(id).csr).catch((e: CertifyError) => e);
    expect(status[(unavailable as CertifyError).code]).toBe('UNAVAILABLE');

    env.api.fault('tokenreviews', { hang: true, times: 1 });
    const started = Date.now();
    const timedOut = await client.certify(id, 'web-token', workloadCsr(id).csr).catch((e: CertifyError) => e);
    expect(status[(timedOut as CertifyError).code]).toBe('UNAVAILABLE');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(h.logs.where({ event: 'certify', reason: 'ERR_VALIDATOR_UNAVAILABLE' })).toHaveLength(2);
  } finally {
    await h.stop();
    await env.stop();
  }
});
