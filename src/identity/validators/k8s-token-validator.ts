/**
 * The `kubernetes` validator: asks the API server, with a TokenReview, whose token this is
 * (as Linkerd's identity controller does). Every Certify costs one API call, so a revoked
 * token or a deleted service account is refused at once; tokens are not cached.
 *
 * What comes back decides the answer (checkTokenReviewStatus):
 *   authenticated=false                      -> ERR_TOKEN_INVALID (with the server's reason)
 *   audience not in status.audiences         -> ERR_TOKEN_AUDIENCE
 *   user not system:serviceaccount:<ns>:<sa> -> ERR_TOKEN_NOT_SERVICE_ACCOUNT
 * and anything that stops us getting an answer (timeout, 5xx, connection refused, 429,
 * a malformed answer, our own credentials refused) is ERR_VALIDATOR_UNAVAILABLE: a slow or
 * broken API server must never turn into a certificate or into UNAUTHENTICATED.
 */
import type { V1TokenReviewStatus } from '@kubernetes/client-node';
import { IdentityError } from '../errors.js';
import type { TokenValidator } from '../token-validator.js';
import { parseServiceAccountUsername, type ServiceAccountRef } from '../../pki/names.js';
import { quote } from '../../util/value-error.js';
import { createLogger, type Logger } from '../../telemetry/logger.js';
import { K8sError } from '../../k8s/errors.js';
import { K8sClient } from '../../k8s/k8s-client.js';
import { loadKubeConfig } from '../../k8s/kubeconfig.js';
import { createSelfSubjectAccessReview, createTokenReview } from '../../k8s/reviews.js';

export const DEFAULT_AUDIENCE = 'identity.lanyard.io';

export interface K8sTokenValidatorConfig {
  /**
   * kubeconfig file. Default: the pod's service account when in a cluster, else $KUBECONFIG,
   * else ~/.kube/config (see loadKubeConfig).
   */
  kubeconfigPath?: string;
  /** Audience the token must be valid for. Default `identity.lanyard.io`; `identity.l5d.io` in Linkerd mode. */
  audience?: string;
  /** Deadline of one TokenReview (rate-limit wait and 429 retries included), in ms. Default 5000. */
  requestTimeoutMs?: number;
  /** Client-side rate limit on API calls, per second. Default 20. */
  qps?: number;
  /** Client-side burst. Default 40. */
  burst?: number;
  /** Default: a logger with component `k8s-token-validator`. */
  logger?: Logger;
  /** A client to share instead of one built from kubeconfigPath/requestTimeoutMs/qps/burst. Default: none. */
  client?: K8sClient;
}

/** The RBAC rule the identity service needs, as an operator would write it. */
export const REQUIRED_RBAC_RULE = '{apiGroups: ["authentication.k8s.io"], resources: ["tokenreviews"], verbs: ["create"]}';

export class K8sTokenValidator implements TokenValidator {
  readonly kind = 'kubernetes';
  readonly audience: string;
  private readonly client: K8sClient;
  private readonly ownsClient: boolean;
  private readonly log: Logger;

  /** Throws ERR_K8S_CONFIG (a K8sError) if no usable kubeconfig is found. */
  constructor(cfg: K8sTokenValidatorConfig = {}) {
    this.audience = cfg.audience ?? DEFAULT_AUDIENCE;
    if (this.audience.length === 0) throw new Error('audience must not be empty');
    this.log = cfg.logger ?? createLogger({ component: 'k8s-token-validator' });
    this.ownsClient = cfg.client === undefined;
    this.client =
      cfg.client ??
      new K8sClient({
        kubeConfig: loadKubeConfig({ path: cfg.kubeconfigPath }),
        timeoutMs: cfg.requestTimeoutMs,
        qps: cfg.qps,
        burst: cfg.burst,
      });
  }

  /**
   * Checks, with a SelfSubjectAccessReview, that we may create TokenReviews, so missing RBAC
   * fails the rollout instead of every Certify. Rejects with an operator-actionable message.
   */
  async start(): Promise<void> {
    let allowed: boolean;
    let reason = '';
    try {
      const status = await createSelfSubjectAccessReview(this.client, { verb: 'create', group: 'authentication.k8s.io', resource: 'tokenreviews' });
      allowed = status.allowed;
      reason = [status.reason, status.evaluationError].filter(Boolean).join('; ');
    } catch (err) {
      throw startFailure(err, this.client.server);
    }
    if (!allowed) {
      throw new IdentityError(
        'ERR_VALIDATOR_UNAVAILABLE',
        `the identity service's service account may not create tokenreviews.authentication.k8s.io: add a ClusterRole rule ${REQUIRED_RBAC_RULE} bound to it` +
          (reason ? ` (API server: ${reason})` : ''),
      );
    }
    this.log.info({ server: this.client.server, audience: this.audience }, 'kubernetes token validator ready: may create tokenreviews');
  }

  async validate(token: string): Promise<ServiceAccountRef> {
    if (token.length === 0) throw new IdentityError('ERR_TOKEN_MALFORMED', 'token is empty');
    let status: V1TokenReviewStatus;
    try {
      status = await createTokenReview(this.client, token, [this.audience]);
    } catch (err) {
      const e = unavailable(err, this.client.server);
      this.log.warn({ code: e.code, cause: (err as K8sError).code, reason: e.message }, 'token review unavailable');
      throw e;
    }
    try {
      const ref = checkTokenReviewStatus(status, this.audience);
      this.log.debug({ namespace: ref.namespace, serviceAccount: ref.serviceAccount }, 'token accepted');
      return ref;
    } catch (err) {
      const e = err as IdentityError;
      this.log.info({ code: e.code, reason: e.message }, 'token rejected');
      throw e;
    }
  }

  /** Aborts calls in flight (they reject with ERR_VALIDATOR_UNAVAILABLE); a client passed in is left open. */
  close(): void {
    if (this.ownsClient) this.client.close();
  }
}

/**
 * Judges a TokenReview status (pure, so a table test covers every branch). The API server's
 * `error` text describes why the token failed, never the token itself, so it is safe to
 * return to the caller and to log.
 */
export function checkTokenReviewStatus(status: V1TokenReviewStatus | undefined, audience: string): ServiceAccountRef {
  if (!status || typeof status !== 'object') {
    throw new IdentityError('ERR_VALIDATOR_UNAVAILABLE', 'the TokenReview answer has no status');
  }
  if (status.authenticated !== true) {
    const why = typeof status.error === 'string' && status.error.length > 0 ? `: ${status.error.slice(0, 300)}` : '';
    throw new IdentityError('ERR_TOKEN_INVALID', `token: the Kubernetes API server did not authenticate it${why}`);
  }
  // An API server that ignores spec.audiences answers with none (meaning "valid for the
  // API server itself"); accepting that would accept tokens minted for anyone.
  const audiences = Array.isArray(status.audiences) ? status.audiences : [];
  if (!audiences.includes(audience)) {
    throw new IdentityError(
      'ERR_TOKEN_AUDIENCE',
      `token: audiences [${audiences.slice(0, 5).map((a) => quote(String(a))).join(', ')}${audiences.length > 5 ? ', …' : ''}] do not include ${JSON.stringify(audience)}; mount a projected token with audience ${audience}`,
    );
  }
  const username = status.user?.username;
  if (typeof username !== 'string' || username.length === 0) {
    throw new IdentityError('ERR_VALIDATOR_UNAVAILABLE', 'the TokenReview answer is authenticated but names no user');
  }
  const ref = parseServiceAccountUsername(username);
  if (!ref) {
    throw new IdentityError(
      'ERR_TOKEN_NOT_SERVICE_ACCOUNT',
      `token: user ${quote(username, 200)} is not system:serviceaccount:<namespace>:<name> with DNS-1123 labels`,
    );
  }
  return ref;
}

function unavailable(err: unknown, server: string): IdentityError {
  if (err instanceof IdentityError) return err;
  if (err instanceof K8sError && err.code === 'ERR_K8S_UNAUTHORIZED') {
    return new IdentityError(
      'ERR_VALIDATOR_UNAVAILABLE',
      `the Kubernetes API server at ${server} refused the identity service's credentials (HTTP ${err.status}) for a TokenReview; ` +
        `check its service-account token and that it may create tokenreviews.authentication.k8s.io`,
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new IdentityError('ERR_VALIDATOR_UNAVAILABLE', `cannot review the token: ${message}`);
}

function startFailure(err: unknown, server: string): IdentityError {
  if (err instanceof K8sError && err.code === 'ERR_K8S_UNAUTHORIZED') {
    return new IdentityError(
      'ERR_VALIDATOR_UNAVAILABLE',
      `kubernetes token validator: the Kubernetes API server at ${server} refused the identity service's credentials (HTTP ${err.status}) ` +
        `when checking RBAC; check the identity service's service-account token or kubeconfig`,
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new IdentityError('ERR_VALIDATOR_UNAVAILABLE', `kubernetes token validator: cannot check RBAC with the Kubernetes API server at ${server}: ${message}`);
}
