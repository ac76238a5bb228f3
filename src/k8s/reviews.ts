/**
 * The two review calls the identity service makes: TokenReview (who does this token
 * belong to?) and SelfSubjectAccessReview (may we do X?). They return the API server's
 * `status` and leave judging it to the caller; a call that fails, or an answer without a
 * status, rejects with a K8sError.
 */
import {
  AuthenticationV1Api,
  AuthorizationV1Api,
  type V1ResourceAttributes,
  type V1SubjectAccessReviewStatus,
  type V1TokenReviewStatus,
} from '@kubernetes/client-node';
import { K8sError } from './errors.js';
import type { CallOptions, K8sClient } from './k8s-client.js';

/** POST /apis/authentication.k8s.io/v1/tokenreviews with spec {token, audiences}. */
export async function createTokenReview(client: K8sClient, token: string, audiences: string[], opts?: CallOptions): Promise<V1TokenReviewStatus> {
  const api = client.api(AuthenticationV1Api);
  const what = 'create tokenreviews.authentication.k8s.io';
  const review = await client.call(
    what,
    (options) => api.createTokenReview({ body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token, audiences } } }, options),
    opts,
  );
  return requireStatus(review?.status, what, client.server);
}

/** POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews for `attributes`. */
export async function createSelfSubjectAccessReview(
  client: K8sClient,
  attributes: V1ResourceAttributes,
  opts?: CallOptions,
): Promise<V1SubjectAccessReviewStatus> {
  const api = client.api(AuthorizationV1Api);
  const what = 'create selfsubjectaccessreviews.authorization.k8s.io';
  const review = await client.call(
    what,
    (options) =>
      api.createSelfSubjectAccessReview(
        { body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: attributes } } },
        options,
      ),
    opts,
  );
  const status = requireStatus(review?.status, what, client.server);
  if (typeof status.allowed !== 'boolean') {
    throw new K8sError('ERR_K8S_MALFORMED', `${what}: the answer from ${client.server} has no status.allowed`);
  }
  return status;
}

function requireStatus<S extends object>(status: S | undefined, what: string, server: string): S {
  if (!status || typeof status !== 'object') {
    throw new K8sError('ERR_K8S_MALFORMED', `${what}: the answer from ${server} has no status`);
  }
  return status;
}
