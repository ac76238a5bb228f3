import { parseStaticEndpoints } from '../../../src/discovery/static-source.js';
import { TrustDomain } from '../../../src/pki/names.js';

const td = new TrustDomain();
const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';

test('ok/entries by address, any port or one port; SPIFFE ID derived', () => {
  const m = parseStaticEndpoints(JSON.stringify([{ address: '10.0.0.2', identity: WEB }, { address: '10.0.0.3', port: 5432, identity: WEB }, { address: '::FFFF:10.0.0.4', identity: WEB }]), 'f', td);
  expect(m.get('10.0.0.2')).toEqual([{ identity: WEB, spiffeId: 'spiffe://cluster.local/ns/default/sa/web', port: 0 }]);
  expect(m.get('10.0.0.3')?.[0].port).toBe(5432);
  expect(m.has('10.0.0.4')).toBe(true);
});

test.each([
  ['fail/not-a-list', '{"address": "10.0.0.2"}', /expected a list/],
  ['fail/bad-address', '[{"address": "10.0.0", "identity": "x"}]', /f\[0\]\.address: expected an IP address/],
  ['fail/missing-identity', '[{"address": "10.0.0.2"}]', /f\[0\]\.identity: required/],
  ['fail/foreign-identity', '[{"address": "10.0.0.2", "identity": "web.default.svc.cluster.local"}]', /not a workload identity/],
  ['fail/unknown-key', '[{"address": "10.0.0.2", "identity": "' + WEB + '", "meshed": true}]', /unknown key "meshed"/],
  ['fail/duplicate', '[{"address": "10.0.0.2", "identity": "' + WEB + '"}, {"address": "10.0.0.2", "identity": "' + WEB + '"}]', /f\[1\]: duplicate entry for 10\.0\.0\.2/],
  ['fail/bad-port', '[{"address": "10.0.0.2", "port": 70000, "identity": "' + WEB + '"}]', /port: expected a port number/],
])('%s', (_n, text, msg) => {
  expect(() => parseStaticEndpoints(text, 'f', td)).toThrow(msg);
});
