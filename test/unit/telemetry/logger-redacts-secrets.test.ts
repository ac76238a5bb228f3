import { LogSink } from '../../support/log-sink.js';

test.each([
  ['ok/top-level token', { token: 'eyJhbGciOi.secret.sig' }],
  ['ok/private key', { privateKey: '-----BEGIN PRIVATE KEY-----x' }],
  ['ok/key', { key: '-----BEGIN EC PRIVATE KEY-----x' }],
  ['ok/csr', { csr: 'MIIBsecret' }],
  ['ok/request token', { request: { token: 'eyJhbGciOi.secret.sig' } }],
  ['ok/authorization header', { req: { headers: { authorization: 'Bearer eyJhbGciOi.secret.sig' } } }],
])('%s is redacted', (_n, fields) => {
  const sink = new LogSink();
  sink.logger().info(fields, 'line');
  expect(sink.raw[0]).not.toMatch(/secret|PRIVATE KEY|MIIB/);
  expect(sink.raw[0]).toContain('[redacted]');
});
