import { ApiException } from '@kubernetes/client-node';
import { K8sError, toK8sError } from '../../../src/k8s/errors.js';

const server = 'https://10.0.0.1:6443';
const status = (code: number, reason: string, message: string) => JSON.stringify({ kind: 'Status', code, reason, message });

function fetchError(code: string): Error {
  return Object.assign(new Error(`request to ${server}/x failed, reason: connect ${code}`), { name: 'FetchError', code, type: 'system' });
}

describe('toK8sError', () => {
  test.each([
    ['401', new ApiException(401, 'Unauthorized', undefined, {}), 'ERR_K8S_UNAUTHORIZED', 401, /refused our credentials \(HTTP 401\)/],
    ['403', new ApiException(403, 'x', status(403, 'Forbidden', 'tokenreviews is forbidden'), {}), 'ERR_K8S_UNAUTHORIZED', 403, /HTTP 403 Forbidden\): tokenreviews is forbidden/],
    ['429', new ApiException(429, 'x', status(429, 'TooManyRequests', 'slow down'), { 'retry-after': '2' }), 'ERR_K8S_THROTTLED', 429, /throttling us/],
    ['500', new ApiException(500, 'x', status(500, 'InternalError', 'etcd is down'), {}), 'ERR_K8S_STATUS', 500, /answered HTTP 500 InternalError: etcd is down/],
    ['410', new ApiException(410, 'x', status(410, 'Expired', 'too old'), {}), 'ERR_K8S_STATUS', 410, /HTTP 410 Expired/],
    ['plain-text-body', new ApiException(502, 'x', 'Bad Gateway', {}), 'ERR_K8S_STATUS', 502, /HTTP 502: Bad Gateway/],
  ])('http/%s', (_name, err, code, httpStatus, message) => {
    const e = toK8sError(err, 'create tokenreviews', server);
    expect(e).toBeInstanceOf(K8sError);
    expect(e.code).toBe(code);
    expect(e.status).toBe(httpStatus);
    expect(e.message).toMatch(message);
    expect(e.message).toContain(server);
  });

  test('retry-after is kept, in ms', () => {
    expect(toK8sError(new ApiException(429, 'x', undefined, { 'retry-after': '2' }), 'c', server).retryAfterMs).toBe(2000);
  });

  test.each([['ECONNREFUSED'], ['ECONNRESET'], ['ENOTFOUND'], ['EHOSTUNREACH']])('socket/%s is ERR_K8S_UNREACHABLE', (code) => {
    const e = toK8sError(fetchError(code), 'create tokenreviews', server);
    expect(e.code).toBe('ERR_K8S_UNREACHABLE');
    expect(e.message).toContain(`cannot reach the Kubernetes API server at ${server}`);
  });

  test('a TLS verification failure is ERR_K8S_UNREACHABLE', () => {
    const err = Object.assign(new Error('unable to verify the first certificate'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' });
    expect(toK8sError(err, 'c', server).code).toBe('ERR_K8S_UNREACHABLE');
  });

  test('a body that is not JSON is ERR_K8S_MALFORMED', () => {
    let parseError: unknown;
    try {
      JSON.parse('<html>');
    } catch (e) {
      parseError = e;
    }
    expect(toK8sError(parseError, 'c', server).code).toBe('ERR_K8S_MALFORMED');
  });

  test('a K8sError passes through unchanged', () => {
    const original = new K8sError('ERR_K8S_TIMEOUT', 'late');
    expect(toK8sError(original, 'c', server)).toBe(original);
  });
});
