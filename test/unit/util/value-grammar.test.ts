import { formatAddress, isLoopbackHost, parseAddress } from '../../../src/util/address.js';
import { formatDuration, parseDuration, timerDelay, MAX_TIMER_MS } from '../../../src/util/duration.js';
import { named, parseBoolean, parseChoice, parseInteger, ValueError } from '../../../src/util/value-error.js';
import { formatPortRanges, parsePortRanges } from '../../../src/util/port-ranges.js';

describe('durations', () => {
  test.each([
    ['0', 0],
    ['500ms', 500],
    ['10s', 10_000],
    ['1h30m', 5_400_000],
    ['1.5h', 5_400_000],
    ['1d', 86_400_000],
    ['365d', 365 * 86_400_000],
    ['2m0.5s', 120_500],
    [' 20s ', 20_000],
  ])('ok %s', (text, ms) => expect(parseDuration(text)).toBe(ms));

  test.each([
    ['', /empty/],
    ['10', /needs a unit/],
    ['1.5', /needs a unit/],
    ['-1s', /unexpected/],
    ['10 s', /unexpected/],
    ['1w', /unexpected/],
    ['s', /unexpected/],
    ['1h-', /unexpected/],
    ['101000d', /100 years/],
  ])('fail/%s', (text, why) => {
    expect(() => parseDuration(text)).toThrow(ValueError);
    expect(() => parseDuration(text)).toThrow(why);
  });

  test.each([0, 1, 999, 1000, 61_000, 5_400_000, 86_400_000 + 1, 30 * 86_400_000])('format round-trips %d', (ms) => {
    expect(parseDuration(formatDuration(ms))).toBe(ms);
  });

  test('timers never get a delay that Node turns into 1 ms', () => {
    expect(timerDelay(30 * 86_400_000)).toBe(MAX_TIMER_MS);
    expect(timerDelay(-5)).toBe(0);
  });
});

describe('addresses', () => {
  test.each([
    ['127.0.0.1:8080', 'dial', '127.0.0.1', 8080],
    ['[::1]:8080', 'dial', '::1', 8080],
    ['localhost:4191', 'dial', 'localhost', 4191],
    ['lanyard-identity.lanyard.svc.cluster.local:8080', 'dial', 'lanyard-identity.lanyard.svc.cluster.local', 8080],
    [':8080', 'listen', '0.0.0.0', 8080],
    ['localhost:0', 'listen', 'localhost', 0],
    ['[::]:4143', 'listen', '::', 4143],
    ['0.0.0.0:0', 'listen', '0.0.0.0', 0],
  ] as const)('ok %s (%s)', (text, role, host, port) => {
    expect(parseAddress(text, role)).toEqual({ host, port });
    expect(parseAddress(formatAddress({ host, port }), role)).toEqual({ host, port });
  });

  test.each([
    ['8080', 'dial', /no port/],
    ['::1:8080', 'dial', /brackets/],
    ['[1.2.3.4]:80', 'dial', /not an IPv6/],
    [':8080', 'dial', /host is needed/],
    ['localhost:0', 'dial', /port 0/],
    ['localhost:65536', 'listen', /above 65535/],
    ['localhost:http', 'dial', /not a port/],
    ['999.1.1.1:80', 'dial', /not an IPv4 address or a DNS name/],
    ['bad_host:80', 'dial', /not an IPv4 address or a DNS name/],
    ['http://x:80', 'dial', /./],
  ] as const)('fail/%s (%s)', (text, role, why) => {
    expect(() => parseAddress(text, role)).toThrow(ValueError);
    expect(() => parseAddress(text, role)).toThrow(why);
  });

  test.each([
    ['127.0.0.1', true],
    ['127.9.8.7', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['localhost', true],
    ['LocalHost', true],
    ['0.0.0.0', false],
    ['::', false],
    ['10.0.0.1', false],
    ['128.0.0.1', false],
    ['lanyard-discovery.lanyard.svc.cluster.local', false],
    ['localhost.example', false],
  ] as const)('loopback %s: %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});

describe('other values', () => {
  test('integers are digits only, within range', () => {
    expect(parseInteger('42', 1, 100)).toBe(42);
    for (const bad of ['', '1e3', '-1', '1.5', '0x10', '101']) expect(() => parseInteger(bad, 1, 100)).toThrow(ValueError);
  });
  test('booleans', () => {
    expect(['true', 'YES', '1', 'on'].map(parseBoolean)).toEqual([true, true, true, true]);
    expect(['false', 'no', '0', 'Off'].map(parseBoolean)).toEqual([false, false, false, false]);
    expect(() => parseBoolean('maybe')).toThrow(/expected true or false/);
  });
  test('choices', () => {
    expect(parseChoice('jwks', ['dev', 'jwks'] as const)).toBe('jwks');
    expect(() => parseChoice('x', ['dev', 'jwks'])).toThrow(/one of dev, jwks/);
  });
  test('errors name the flag and its variable', () => {
    expect(() => named({ flag: '--addr', env: 'LANYARD_IDENTITY_ADDR' }, () => parseAddress('nope', 'dial'))).toThrow(
      /^--addr \(env LANYARD_IDENTITY_ADDR\): no port; expected an address/,
    );
    expect(() => named({ env: 'LANYARD_PROXY_IDLE_TIMEOUT' }, () => parseDuration('5'))).toThrow(/^LANYARD_PROXY_IDLE_TIMEOUT: a number needs a unit/);
  });
  test('long input is cut in the message', () => {
    const long = 'x'.repeat(50_000);
    let message = '';
    try {
      parseDuration(long);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message.length).toBeLessThan(300);
  });
});

describe('port lists (proxy-init flags and the skip-ports annotations)', () => {
  test.each([
    ['25', [{ from: 25, to: 25 }], '25'],
    [' 25, 587,6000-6010,6000:6010,,25 ', [{ from: 25, to: 25 }, { from: 587, to: 587 }, { from: 6000, to: 6010 }], '25,587,6000-6010'],
    ['22-22', [{ from: 22, to: 22 }], '22'],
    ['', [], ''],
  ])('ok/%j', (text, ranges, canonical) => {
    expect(parsePortRanges(text)).toEqual(ranges);
    expect(formatPortRanges(parsePortRanges(text))).toBe(canonical);
  });

  test.each([
    ['25,smtp', 'expected TCP ports 1-65535 such as 25,587,6000-6010 ("smtp" is not one), got "25,smtp"'],
    ['6010-6000', 'expected ranges written low-high (6000-6010), got "6010-6000"'],
    ['70000', 'expected a TCP port from 1 to 65535, got "70000"'],
    ['1-70000', 'expected TCP ports 1-65535 such as 25,587,6000-6010 ("70000" is not one), got "1-70000"'],
  ])('fail/%j', (text, message) => {
    expect(() => parsePortRanges(text)).toThrow(ValueError);
    expect(() => parsePortRanges(text)).toThrow(message);
  });
});
