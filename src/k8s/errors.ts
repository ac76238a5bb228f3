/**
 * Errors of the Kubernetes client layer. Every failure of a call to the API server,
 * whatever the library or the socket threw, becomes one K8sError with a stable `code`, so
 * callers branch on the code (a timeout is `ERR_K8S_TIMEOUT`) instead of on error shapes
 * that differ between node-fetch, the generated client and node:https.
 */
import { ApiException } from '@kubernetes/client-node';

export type K8sErrorCode =
  /** No answer within the call's deadline (the request was aborted). */
  | 'ERR_K8S_TIMEOUT'
  /** The caller aborted, or the client was closed. */
  | 'ERR_K8S_ABORTED'
  /** Could not connect, or the connection failed (refused, reset, DNS, TLS). */
  | 'ERR_K8S_UNREACHABLE'
  /** The API server refused our own credentials: HTTP 401, or 403 (RBAC). */
  | 'ERR_K8S_UNAUTHORIZED'
  /** HTTP 429 after the allowed retries, or the client-side rate limit cannot fit the deadline. */
  | 'ERR_K8S_THROTTLED'
  /** Any other non-2xx answer; `status` holds the HTTP code (410 Gone included). */
  | 'ERR_K8S_STATUS'
  /** A 2xx answer that is not the JSON we asked for. */
  | 'ERR_K8S_MALFORMED'
  /** The kubeconfig is missing or unusable. */
  | 'ERR_K8S_CONFIG';

export class K8sError extends Error {
  constructor(
    readonly code: K8sErrorCode,
    message: string,
    /** The HTTP status, when the API server answered. */
    readonly status?: number,
    /** `Retry-After`, in ms, when the API server sent one. */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'K8sError';
  }
}

/** The parts of a metav1.Status we report; the API server's message is safe to log. */
export interface StatusBody {
  kind?: string;
  code?: number;
  reason?: string;
  message?: string;
}

const SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ETIMEDOUT',
]);

/**
 * Normalises whatever a call threw. `what` names the call for the message
 * (`create tokenreviews`); `server` is the API server URL.
 */
export function toK8sError(err: unknown, what: string, server: string): K8sError {
  if (err instanceof K8sError) return err;
  if (err instanceof ApiException) {
    return fromHttpStatus(err.code, statusBodyOf(err.body), what, server, retryAfterOf(err.headers));
  }
  const e = err as { name?: string; code?: string; message?: string; type?: string };
  const message = e?.message ?? String(err);
  if (e?.name === 'FetchError' || (typeof e?.code === 'string' && (SOCKET_CODES.has(e.code) || /^ERR_TLS|CERT|SSL/.test(e.code)))) {
    return new K8sError('ERR_K8S_UNREACHABLE', `${what}: cannot reach the Kubernetes API server at ${server}: ${message}`);
  }
  if (err instanceof SyntaxError || /ObjectSerializer|Content-Type|mediaType/.test(message)) {
    return new K8sError('ERR_K8S_MALFORMED', `${what}: the Kubernetes API server at ${server} sent a malformed answer: ${message}`);
  }
  return new K8sError('ERR_K8S_UNREACHABLE', `${what}: request to the Kubernetes API server at ${server} failed: ${message}`);
}

/** The error for a non-2xx HTTP answer. */
export function fromHttpStatus(status: number, body: StatusBody | undefined, what: string, server: string, retryAfterMs?: number): K8sError {
  const detail = body?.message ? `: ${body.message}` : '';
  const label = `HTTP ${status}${body?.reason ? ` ${body.reason}` : ''}`;
  if (status === 401 || status === 403) {
    return new K8sError('ERR_K8S_UNAUTHORIZED', `${what}: the Kubernetes API server at ${server} refused our credentials (${label})${detail}`, status);
  }
  if (status === 429) {
    return new K8sError('ERR_K8S_THROTTLED', `${what}: the Kubernetes API server at ${server} is throttling us (${label})${detail}`, status, retryAfterMs);
  }
  return new K8sError('ERR_K8S_STATUS', `${what}: the Kubernetes API server at ${server} answered ${label}${detail}`, status, retryAfterMs);
}

/** The generated client hands over a Status body as a string, an object, or nothing. */
export function statusBodyOf(body: unknown): StatusBody | undefined {
  if (typeof body === 'string') {
    try {
      return statusBodyOf(JSON.parse(body));
    } catch {
      return body.length > 0 ? { message: body.slice(0, 200) } : undefined;
    }
  }
  if (body && typeof body === 'object') {
    const b = body as Record<string, unknown>;
    return {
      kind: typeof b.kind === 'string' ? b.kind : undefined,
      code: typeof b.code === 'number' ? b.code : undefined,
      reason: typeof b.reason === 'string' ? b.reason : undefined,
      message: typeof b.message === 'string' ? b.message.slice(0, 500) : undefined,
    };
  }
  return undefined;
}

function retryAfterOf(headers: Record<string, string> | undefined): number | undefined {
  const raw = headers?.['retry-after'];
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}
