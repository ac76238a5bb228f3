/**
 * parseRoutes: explicit outbound routes from YAML or JSON, checked strictly; every error
 * names the source and the route (`LANYARD_PROXY_ROUTES: routes[1].upstream: ...`).
 */
import { hostPort, parseRoutes, RoutesError, type Route } from '../../../proxy/outbound/routes.js';

const W = 'LANYARD_PROXY_ROUTES';
const API = 'api.default.serviceaccount.identity.lanyard.cluster.local';

const listen = (host: string, port: number): Pick<Route, 'listen' | 'destination'> => ({ listen: { host, port }, destination: null });

describe('ok', () => {
  test.each<[string, string, Route[]]>([
    ['ok/empty-text', '', []],
    ['ok/null-document', 'null', []],
    ['ok/empty-list', '[]', []],
    [
      'ok/json-list',
      JSON.stringify([{ listen: '127.0.0.1:4140', upstream: '10.0.0.7:4143', identity: API }]),
      [{ ...listen('127.0.0.1', 4140), upstream: { host: '10.0.0.7', port: 4143 }, identity: API, name: 'route:127.0.0.1:4140' }],
    ],
    [
      'ok/yaml-routes-key',
      `routes:\n  - listen: 127.0.0.1:4150\n    upstream: db.example.com:5432\n    unmeshed: true\n`,
      [{ ...listen('127.0.0.1', 4150), upstream: { host: 'db.example.com', port: 5432 }, identity: null, name: 'route:127.0.0.1:4150' }],
    ],
    [
      'ok/destination-route',
      JSON.stringify([{ destination: '10.0.0.7:8080', upstream: '10.0.0.7:8080', identity: API }]),
      [{ listen: null, destination: { host: '10.0.0.7', port: 8080 }, upstream: { host: '10.0.0.7', port: 8080 }, identity: API, name: 'route:dst=10.0.0.7:8080' }],
    ],
    [
      'ok/ipv6-addresses',
      JSON.stringify([{ listen: '[::1]:0', upstream: '[fd00::7]:4143', identity: API }]),
      [{ ...listen('::1', 0), upstream: { host: 'fd00::7', port: 4143 }, identity: API, name: 'route:[::1]:0' }],
    ],
    [
      'ok/port-number-means-loopback',
      JSON.stringify([{ listen: 4140, upstream: 4143, identity: API }]),
      [{ ...listen('127.0.0.1', 4140), upstream: { host: '127.0.0.1', port: 4143 }, identity: API, name: 'route:127.0.0.1:4140' }],
    ],
    [
      'ok/unmeshed-false-is-meshed',
      JSON.stringify([{ listen: '127.0.0.1:4140', upstream: '127.0.0.1:4143', identity: API, unmeshed: false }]),
      [{ ...listen('127.0.0.1', 4140), upstream: { host: '127.0.0.1', port: 4143 }, identity: API, name: 'route:127.0.0.1:4140' }],
    ],
  ])('%s', (_name, text, want) => expect(parseRoutes(text, W)).toEqual(want));

  test('ok/two-ephemeral-listeners: port 0 routes are not duplicates (each gets its own port)', () => {
    const text = JSON.stringify([
      { listen: '127.0.0.1:0', upstream: '127.0.0.1:4143', identity: API },
      { listen: '127.0.0.1:0', upstream: '127.0.0.1:5432', unmeshed: true },
    ]);
    expect(parseRoutes(text, W).map((r) => r.upstream.port)).toEqual([4143, 5432]);
  });
});

describe('errors name the source and the route', () => {
  const one = (r: Record<string, unknown>) => JSON.stringify([r]);
  const meshed = { listen: '127.0.0.1:4140', upstream: '127.0.0.1:4143', identity: API };
  test.each<[string, string, string]>([
    ['fail/not-a-list', '{"listen": "127.0.0.1:4140"}', `${W}: expected a list of routes or { routes: [...] }`],
    ['fail/scalar', '42', `${W}: expected a list of routes or { routes: [...] }`],
    ['fail/routes-key-not-a-list', 'routes: {listen: 4140}', `${W}: expected a list of routes or { routes: [...] }`],
    ['fail/route-not-an-object', '["127.0.0.1:4140"]', `${W}: routes[0]: expected an object`],
    ['fail/route-is-a-list', '[[1, 2]]', `${W}: routes[0]: expected an object`],
    ['fail/route-null', '[null]', `${W}: routes[0]: expected an object`],
    ['fail/unknown-key', one({ ...meshed, port: 80 }), `${W}: routes[0]: unknown key "port" (expected listen, destination, upstream, identity, unmeshed)`],
    ['fail/misspelt-key', one({ listne: '127.0.0.1:4140', upstream: '127.0.0.1:4143', identity: API }), `${W}: routes[0]: unknown key "listne" (expected listen, destination, upstream, identity, unmeshed)`],
    ['fail/neither-listen-nor-destination', one({ upstream: '127.0.0.1:4143', identity: API }), `${W}: routes[0]: exactly one of "listen" or "destination" is required`],
    ['fail/both-listen-and-destination', one({ ...meshed, destination: '10.0.0.7:8080' }), `${W}: routes[0]: exactly one of "listen" or "destination" is required`],
    ['fail/upstream-missing', one({ listen: '127.0.0.1:4140', identity: API }), `${W}: routes[0].upstream: required`],
    ['fail/unmeshed-not-boolean', one({ listen: '127.0.0.1:4150', upstream: '127.0.0.1:5432', unmeshed: 'yes' }), `${W}: routes[0].unmeshed: expected true or false`],
    ['fail/unmeshed-with-identity', one({ ...meshed, unmeshed: true }), `${W}: routes[0]: an unmeshed route has no identity`],
    ['fail/identity-missing', one({ listen: '127.0.0.1:4140', upstream: '127.0.0.1:4143' }), `${W}: routes[0].identity: expected the upstream's workload identity (a DNS name), or "unmeshed: true"`],
    ['fail/identity-not-a-dns-name', one({ ...meshed, identity: 'Api_Default' }), `${W}: routes[0].identity: expected the upstream's workload identity (a DNS name), or "unmeshed: true"`],
    ['fail/identity-not-a-string', one({ ...meshed, identity: 42 }), `${W}: routes[0].identity: expected the upstream's workload identity (a DNS name), or "unmeshed: true"`],
    ['fail/identity-spiffe-id', one({ ...meshed, identity: 'spiffe://cluster.local/ns/default/sa/api' }), `${W}: routes[0].identity: expected the upstream's workload identity (a DNS name), or "unmeshed: true"`],
    ['fail/duplicate-listen', JSON.stringify([meshed, { ...meshed, upstream: '127.0.0.1:5143' }]), `${W}: two routes for listen 127.0.0.1:4140`],
    [
      'fail/duplicate-destination',
      JSON.stringify([
        { destination: '10.0.0.7:8080', upstream: '10.0.0.7:8080', identity: API },
        { destination: '10.0.0.7:8080', upstream: '10.0.0.8:8080', identity: API },
      ]),
      `${W}: two routes for destination 10.0.0.7:8080`,
    ],
  ])('%s', (_name, text, message) => {
    expect(() => parseRoutes(text, W)).toThrow(new RoutesError(message));
  });

  // Addresses are parsed by src/util's grammar; its message follows the field's name.
  test.each<[string, string, string, RegExp]>([
    ['fail/upstream-no-port', one({ ...meshed, upstream: 'api.default.svc' }), 'routes[0].upstream', /^no port; expected an address host:port .*, got "api\.default\.svc"$/],
    ['fail/upstream-port-zero', one({ ...meshed, upstream: '127.0.0.1:0' }), 'routes[0].upstream', /^port 0 can only be listened on; .*got "127\.0\.0\.1:0"$/],
    ['fail/upstream-port-too-big', one({ ...meshed, upstream: '127.0.0.1:65536' }), 'routes[0].upstream', /^port above 65535; /],
    ['fail/upstream-ipv6-unbracketed', one({ ...meshed, upstream: 'fd00::7:4143' }), 'routes[0].upstream', /^an IPv6 address needs brackets; /],
    ['fail/upstream-no-host', one({ ...meshed, upstream: ':4143' }), 'routes[0].upstream', /^a host is needed to connect to; /],
    ['fail/upstream-not-a-string', one({ ...meshed, upstream: { host: 'a', port: 1 } }), 'routes[0].upstream', /^expected an address host:port, got "\{\\"host\\":\\"a\\",\\"port\\":1\}"$/],
    ['fail/listen-bad', one({ ...meshed, listen: 'localhost' }), 'routes[0].listen', /^no port; expected a listen address/],
    ['fail/listen-port-too-big', one({ ...meshed, listen: '127.0.0.1:99999' }), 'routes[0].listen', /^port above 65535; /],
    ['fail/destination-port-zero', one({ destination: '10.0.0.7:0', upstream: '10.0.0.7:8080', identity: API }), 'routes[0].destination', /^port 0 can only be listened on; /],
    ['fail/second-route-names-its-index', JSON.stringify([meshed, { listen: '127.0.0.1:4141', upstream: 'nowhere', identity: API }]), 'routes[1].upstream', /^no port; .*got "nowhere"$/],
  ])('%s', (_name, text, field, why) => {
    let err: unknown;
    try {
      parseRoutes(text, W);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RoutesError);
    const prefix = `${W}: ${field}: `;
    expect((err as Error).message.startsWith(prefix)).toBe(true);
    expect((err as Error).message.slice(prefix.length)).toMatch(why);
  });

  test('ok/listen-accepts-a-port-alone-and-any-free-port', () => {
    const routes = parseRoutes(JSON.stringify([{ listen: ':4140', upstream: 'localhost:4143', identity: API }, { listen: 'localhost:0', upstream: '[::1]:4143', identity: API }]), W);
    expect(routes.map((r) => [r.listen, r.upstream])).toEqual([
      [{ host: '0.0.0.0', port: 4140 }, { host: 'localhost', port: 4143 }],
      [{ host: 'localhost', port: 0 }, { host: '::1', port: 4143 }],
    ]);
  });

  test('fail/not-yaml: the parser error follows the source', () => {
    expect(() => parseRoutes('[{"listen": "127.0.0.1:4140",', W)).toThrow(/^LANYARD_PROXY_ROUTES: not valid YAML or JSON: .+/);
    expect(() => parseRoutes('[{"listen": "127.0.0.1:4140",', W)).toThrow(RoutesError);
  });

  test('the source may be a file', () => {
    expect(() => parseRoutes('[1]', 'LANYARD_PROXY_ROUTES_FILE (/etc/lanyard/routes.yaml)')).toThrow(
      new RoutesError('LANYARD_PROXY_ROUTES_FILE (/etc/lanyard/routes.yaml): routes[0]: expected an object'),
    );
  });
});

describe('hostPort', () => {
  test.each<[string, unknown, boolean, { host: string; port: number } | RegExp]>([
    ['ok/ipv4', '10.1.2.3:80', false, { host: '10.1.2.3', port: 80 }],
    ['ok/name', 'db.example.com:5432', false, { host: 'db.example.com', port: 5432 }],
    ['ok/ipv6', '[::1]:4143', false, { host: '::1', port: 4143 }],
    ['ok/surrounding-space', ' 127.0.0.1:80 ', false, { host: '127.0.0.1', port: 80 }],
    ['ok/listen-port-zero', '0.0.0.0:0', true, { host: '0.0.0.0', port: 0 }],
    ['ok/listen-port-alone', ':4140', true, { host: '0.0.0.0', port: 4140 }],
    ['ok/number', 8080, false, { host: '127.0.0.1', port: 8080 }],
    ['fail/port-zero-when-dialling', '10.1.2.3:0', false, /^x: port 0 can only be listened on; /],
    ['fail/no-host', ':80', false, /^x: a host is needed to connect to; /],
    ['fail/six-digit-port', '10.1.2.3:100000', false, /^x: "100000" is not a port; /],
    ['fail/space-in-host', 'db host:80', false, /^x: "db host" is not an IPv4 address or a DNS name; /],
    ['fail/undefined', undefined, false, /^x: expected an address host:port, got nothing$/],
  ])('%s', (_name, input, isListen, want) => {
    if (want instanceof RegExp) {
      expect(() => hostPort(input, 'x', isListen)).toThrow(RoutesError);
      expect(() => hostPort(input, 'x', isListen)).toThrow(want);
    } else expect(hostPort(input, 'x', isListen)).toEqual(want);
  });
});
