/**
 * Logs never carry secrets, nor unbounded values: objects are logged through the project's
 * logger into a stream sink and the written line is checked, as pino advises.
 */
import { scrubFields } from '../../../src/telemetry/log-scrub.js';
import { LogSink } from '../../support/log-sink.js';

const JWT = 'eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZGVmYXVsdDp3ZWIifQ.c2VjcmV0LXNpZ25hdHVyZQ';
const KEY_PEM = '-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIKeySecretBytes\n-----END EC PRIVATE KEY-----\n';
const PKCS8_PEM = '-----BEGIN PRIVATE KEY-----\nMIGHAgEAKeySecretBytes\n-----END PRIVATE KEY-----\n';
const CSR_PEM = '-----BEGIN CERTIFICATE REQUEST-----\nMIIBCsrSecretBytes\n-----END CERTIFICATE REQUEST-----\n';
/** Every secret above contains one of these; none may appear in a line. */
const LEAKS = /eyJ|SecretBytes|s3cr3t|opaque-credential|BEGIN (EC )?PRIVATE|CERTIFICATE REQUEST/;

function logged(log: (sink: LogSink) => void): string {
  const sink = new LogSink();
  log(sink);
  expect(sink.raw).toHaveLength(1);
  return sink.raw[0];
}

const nested = (depth: number, leaf: Record<string, unknown>): Record<string, unknown> => (depth === 0 ? leaf : { level: nested(depth - 1, leaf) });

describe('secrets by field name, any case, any depth', () => {
  test.each([
    ['ok/token', { token: 'opaque-credential' }],
    ['ok/Token', { Token: 'opaque-credential' }],
    ['ok/TOKEN', { TOKEN: 'opaque-credential' }],
    ['ok/id_token', { id_token: 'opaque-credential' }],
    ['ok/idToken', { idToken: 'opaque-credential' }],
    ['ok/access-token', { 'access-token': 'opaque-credential' }],
    ['ok/authorization', { authorization: 'Basic opaque-credential' }],
    ['ok/Authorization header', { req: { headers: { Authorization: 'opaque-credential' } } }],
    ['ok/proxy-authorization', { headers: { 'Proxy-Authorization': 'opaque-credential' } }],
    ['ok/cookie', { headers: { cookie: 'session=opaque-credential' } }],
    ['ok/password', { Password: 'opaque-credential' }],
    ['ok/client_secret', { client_secret: 'opaque-credential' }],
    ['ok/privateKey', { privateKey: 'opaque-credential' }],
    ['ok/private_key', { private_key: 'opaque-credential' }],
    ['ok/key', { key: 'opaque-credential' }],
    ['ok/keyPem', { keyPem: 'opaque-credential' }],
    ['ok/csr', { csr: 'opaque-credential' }],
    ['ok/CSR bytes', { CSR: Buffer.from('opaque-credential') }],
    ['ok/certificate_signing_request', { request: { certificate_signing_request: Buffer.from('opaque-credential') } }],
    ['ok/token five levels down', nested(5, { token: 'opaque-credential' })],
    ['ok/token in an array', { calls: [{ ok: true }, { token: 'opaque-credential' }] }],
    ['ok/token as an object', { token: { value: 'opaque-credential' } }],
  ])('%s is redacted', (_n, fields) => {
    const line = logged((s) => s.logger().info(fields, 'line'));
    expect(line).not.toMatch(LEAKS);
    expect(line).toContain('[redacted]');
  });
});

describe('secrets by shape, in any string', () => {
  test.each([
    ['ok/JWT in a field', { detail: `validating ${JWT} failed` }],
    ['ok/Bearer value', { upstream: { sent: 'Bearer opaque-credential' } }],
    ['ok/bearer in lower case', { note: 'header was bearer opaque-credential' }],
    ['ok/token query parameter', { url: 'https://api/openid/v1/jwks?token=opaque-credential&x=1' }],
    ['ok/EC private key PEM', { file: KEY_PEM }],
    ['ok/PKCS#8 private key PEM', { nested: { list: [PKCS8_PEM] } }],
    ['ok/truncated private key PEM', { head: KEY_PEM.slice(0, 40) }],
    ['ok/CSR PEM', { pem: CSR_PEM }],
  ])('%s is redacted', (_n, fields) => {
    const line = logged((s) => s.logger().info(fields, 'line'));
    expect(line).not.toMatch(LEAKS);
    expect(line).toContain('[redacted]');
  });

  test('ok/a JWT in the message string', () => {
    const line = logged((s) => s.logger().warn(`token ${JWT} refused`));
    expect(line).not.toMatch(LEAKS);
    expect(JSON.parse(line).msg).toBe('token [redacted] refused');
  });
});

describe('errors', () => {
  test('ok/a token inside err.message and err.stack', () => {
    const line = logged((s) => s.logger().error({ err: new Error(`TokenReview refused ${JWT}`) }, 'certify failed'));
    expect(line).not.toMatch(LEAKS);
    const err = JSON.parse(line).err as { type: string; message: string; stack: string };
    expect(err.type).toBe('Error');
    expect(err.message).toBe('TokenReview refused [redacted]');
    expect(err.stack).toMatch(/^Error: TokenReview refused \[redacted\]\n\s+at /);
  });

  test('ok/an error logged alone: its message becomes the line message, scrubbed', () => {
    const line = logged((s) => s.logger().error(new Error('upstream said Bearer opaque-credential')));
    expect(line).not.toMatch(LEAKS);
    expect(JSON.parse(line).msg).toBe('upstream said Bearer [redacted]');
  });

  test('ok/an error with a secret field, a code and a cause', () => {
    const cause = Object.assign(new Error(`inner ${JWT}`), { code: 'ERR_INNER' });
    const err = Object.assign(new TypeError('outer', { cause }), { code: 'ERR_OUTER', token: 'opaque-credential', privateKey: KEY_PEM });
    const line = logged((s) => s.logger().error({ err }, 'failed'));
    expect(line).not.toMatch(LEAKS);
    expect(JSON.parse(line).err).toMatchObject({ type: 'TypeError', message: 'outer', code: 'ERR_OUTER', token: '[redacted]', privateKey: '[redacted]', cause: { type: 'Error', message: 'inner [redacted]', code: 'ERR_INNER' } });
  });

  test('ok/an error under another field name', () => {
    const line = logged((s) => s.logger().warn({ reason: new Error(`bad ${JWT}`) }, 'refused'));
    expect(line).not.toMatch(LEAKS);
    expect(JSON.parse(line).reason).toMatchObject({ type: 'Error', message: 'bad [redacted]' });
  });
});

test('ok/child logger bindings are scrubbed too', () => {
  const line = logged((s) => s.logger().child({ token: 'opaque-credential', peer: `Bearer ${JWT}` }).child({ worker: 2 }).info('bound'));
  expect(line).not.toMatch(LEAKS);
  expect(JSON.parse(line)).toMatchObject({ token: '[redacted]', peer: 'Bearer [redacted]', worker: 2 });
});

test('ok/what is not a secret is kept as it is', () => {
  const fields = {
    event: 'certify',
    identity: 'web.default.serviceaccount.identity.lanyard.cluster.local',
    token_file: '/var/run/secrets/tokens/lanyard-identity-token',
    keys: 3,
    monkey: 'banana',
    certificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
    peer: '10.0.0.7:51234',
  };
  expect(JSON.parse(logged((s) => s.logger().info(fields, 'kept')))).toMatchObject(fields);
});

describe('bounds', () => {
  test('ok/a 50,000-character string is cut and says so', () => {
    const parsed = JSON.parse(logged((s) => s.logger().info({ cn: 'A'.repeat(50_000) }, 'long')));
    expect(parsed.cn).toBe(`${'A'.repeat(2048)}… [47952 more characters]`);
  });

  test('ok/a 50,000-character message is cut', () => {
    expect(logged((s) => s.logger().info('B'.repeat(50_000))).length).toBeLessThan(2500);
  });

  test('ok/bytes are shown as their length, long arrays and deep objects are cut', () => {
    const parsed = JSON.parse(logged((s) => s.logger().info({ der: Buffer.alloc(70_000), items: Array.from({ length: 1000 }, (_, i) => i), deep: nested(20, { x: 1 }) }, 'big')));
    expect(parsed.der).toBe('[70000 bytes]');
    expect(parsed.items).toHaveLength(51);
    expect(parsed.items[50]).toBe('[950 more items]');
    expect(JSON.stringify(parsed.deep)).toContain('[nested too deep]');
  });

  test('ok/a circular object is logged, not looped over', () => {
    const a: Record<string, unknown> = { name: 'a' };
    a.self = a;
    expect(JSON.parse(logged((s) => s.logger().info({ a }, 'circular'))).a).toEqual({ name: 'a', self: '[circular]' });
  });
});

test('ok/a flat line that needs no change is not copied (the Certify audit line stays cheap)', () => {
  const audit = { event: 'certify', identity: 'web.default.serviceaccount.identity.lanyard.cluster.local', result: 'ok', serial: 'ab12', peer: '127.0.0.1:4000', duration_ms: 1.2, not_after: null };
  expect(scrubFields(audit)).toBe(audit);
});
