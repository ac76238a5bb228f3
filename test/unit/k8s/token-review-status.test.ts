import type { V1TokenReviewStatus } from '@kubernetes/client-node';
import { checkTokenReviewStatus } from '../../../src/identity/validators/k8s-token-validator.js';

const AUD = 'identity.lanyard.io';
const ok = (username: string, audiences = [AUD]): V1TokenReviewStatus => ({ authenticated: true, user: { username }, audiences });

describe('checkTokenReviewStatus', () => {
  test.each([
    ['ok/plain', ok('system:serviceaccount:default:web'), { namespace: 'default', serviceAccount: 'web' }],
    ['ok/several-audiences', ok('system:serviceaccount:ns-1:sa-2', ['other', AUD]), { namespace: 'ns-1', serviceAccount: 'sa-2' }],
  ])('%s', (_name, status, ref) => {
    expect(checkTokenReviewStatus(status, AUD)).toEqual(ref);
  });

  test.each([
    ['fail/unauthenticated', { authenticated: false, error: 'token expired' }, 'ERR_TOKEN_INVALID', /did not authenticate it: token expired/],
    ['fail/unauthenticated-no-error', { authenticated: false }, 'ERR_TOKEN_INVALID', /did not authenticate it$/],
    ['fail/authenticated-missing', { user: { username: 'system:serviceaccount:a:b' }, audiences: [AUD] }, 'ERR_TOKEN_INVALID', /did not authenticate/],
    ['fail/other-audience', ok('system:serviceaccount:a:b', ['api']), 'ERR_TOKEN_AUDIENCE', /audiences \["api"\] do not include "identity.lanyard.io"/],
    ['fail/no-audiences', { authenticated: true, user: { username: 'system:serviceaccount:a:b' } }, 'ERR_TOKEN_AUDIENCE', /audiences \[\]/],
    ['fail/node', ok('system:node:worker-1'), 'ERR_TOKEN_NOT_SERVICE_ACCOUNT', /"system:node:worker-1" is not system:serviceaccount/],
    ['fail/user', ok('jane'), 'ERR_TOKEN_NOT_SERVICE_ACCOUNT', /"jane"/],
    ['fail/bad-label', ok('system:serviceaccount:default:Web'), 'ERR_TOKEN_NOT_SERVICE_ACCOUNT', /DNS-1123/],
    ['fail/no-user', { authenticated: true, audiences: [AUD] }, 'ERR_VALIDATOR_UNAVAILABLE', /names no user/],
    ['fail/no-status', undefined, 'ERR_VALIDATOR_UNAVAILABLE', /no status/],
  ])('%s', (_name, status, code, message) => {
    expect(() => checkTokenReviewStatus(status as V1TokenReviewStatus | undefined, AUD)).toThrow(expect.objectContaining({ code, message: expect.stringMatching(message) }));
  });

  test('the audience check uses the configured audience (Linkerd mode)', () => {
    expect(checkTokenReviewStatus(ok('system:serviceaccount:a:b', ['identity.l5d.io']), 'identity.l5d.io')).toEqual({ namespace: 'a', serviceAccount: 'b' });
    expect(() => checkTokenReviewStatus(ok('system:serviceaccount:a:b'), 'identity.l5d.io')).toThrow(expect.objectContaining({ code: 'ERR_TOKEN_AUDIENCE' }));
  });
});
