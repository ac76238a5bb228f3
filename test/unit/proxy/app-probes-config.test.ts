/**
 * LANYARD_PROXY_APP_PROBES as the proxy checks it at start-up: every refusal names the entry
 * and the field, and what passes cannot inject a header or request line.
 */
import { parseAppProbes } from '../../../proxy/probes/app-probes.js';
import { parseProxyConfig, ProxyConfigError } from '../../../proxy/config.js';
import { createTestPki } from '../../support/test-ca.js';

const one = (entry: unknown, path = '/app-health/web/readiness') => JSON.stringify({ [path]: entry });

test('ok/defaults: path /, HTTP, 1 s', () => {
  expect(parseAppProbes(one({ port: 8080, httpGet: {} })).get('/app-health/web/readiness')).toEqual({ kind: 'http', port: 8080, path: '/', scheme: 'http', headers: [], timeoutMs: 1000 });
});

test.each([
  ['not JSON', '{', /not JSON/],
  ['not an object', '[]', /expected a JSON object/],
  ['a path outside /app-health/', JSON.stringify({ '/metrics': { port: 1, tcpSocket: {} } }), /"\/metrics": expected a path under \/app-health\//],
  ['no port', one({ httpGet: {} }), /port: expected a TCP port/],
  ['port 0', one({ port: 0, tcpSocket: {} }), /port: expected a TCP port/],
  ['a named port left unresolved', one({ port: 'http', httpGet: {} }), /port: expected a TCP port/],
  ['both actions', one({ port: 1, httpGet: {}, tcpSocket: {} }), /exactly one of httpGet and tcpSocket/],
  ['no action', one({ port: 1 }), /exactly one of httpGet and tcpSocket/],
  ['timeout 0', one({ port: 1, tcpSocket: {}, timeoutSeconds: 0 }), /timeoutSeconds: expected an integer from 1 to 3600/],
  ['a relative path', one({ port: 1, httpGet: { path: 'ready' } }), /httpGet.path: expected an absolute path/],
  ['a path with a space (request-line injection)', one({ port: 1, httpGet: { path: '/a HTTP/1.1\r\nX: y' } }), /httpGet.path/],
  ['another scheme', one({ port: 1, httpGet: { scheme: 'FTP' } }), /httpGet.scheme: expected HTTP or HTTPS/],
  ['a header value with a newline (header injection)', one({ port: 1, httpGet: { httpHeaders: [{ name: 'X', value: 'a\r\nEvil: 1' }] } }), /httpHeaders\[0\]/],
  ['a header name that is not a token', one({ port: 1, httpGet: { httpHeaders: [{ name: 'X Y', value: 'a' }] } }), /httpHeaders\[0\]/],
])('fail/%s', (_n, text, message) => {
  expect(() => parseAppProbes(text)).toThrow(message);
});

test('fail/the proxy refuses to start on a bad value, naming the variable and its flag', async () => {
  const anchors = (await createTestPki()).anchor.certPem;
  const env = { LANYARD_PROXY_TRUST_ANCHORS: anchors, LANYARD_PROXY_LOCAL_IDENTITY: 'web.default.serviceaccount.identity.lanyard.cluster.local' };
  expect(() => parseProxyConfig({ ...env, LANYARD_PROXY_APP_PROBES: one({ port: 1 }) })).toThrow(ProxyConfigError);
  expect(() => parseProxyConfig({ ...env, LANYARD_PROXY_APP_PROBES: one({ port: 1 }) })).toThrow(/^--app-probes \(env LANYARD_PROXY_APP_PROBES\): "\/app-health\/web\/readiness": expected exactly one/);
  expect(() => parseProxyConfig({ ...env, LANYARD_POD_IP: 'pod' })).toThrow(/--pod-ip \(env LANYARD_POD_IP\): "pod" is not an IP address/);
  expect(parseProxyConfig({ ...env, LANYARD_POD_IP: '10.1.2.3' }).podIp).toBe('10.1.2.3');
  expect(parseProxyConfig(env)).toMatchObject({ podIp: '127.0.0.1', appProbes: new Map() });
});
