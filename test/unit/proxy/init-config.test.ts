/**
 * proxy-init's flags: defaults, accepted spellings, and every refusal naming its flag (or
 * the LANYARD_INIT_* variable when the value came from there).
 */
import { PROXY_INIT_FLAGS, parseProxyInitConfig, type ProxyInitConfig, type ProxyInitKey, type RawProxyInitConfig } from '../../../proxy/init/init-config.js';
import { ProxyInitError } from '../../../proxy/init/init-error.js';

test('ok/defaults', () => {
  expect(parseProxyInitConfig({})).toEqual<ProxyInitConfig>({
    inboundPort: 4143,
    outboundPort: 4140,
    adminPort: 4191,
    proxyUid: 2102,
    proxyGid: null,
    inboundPortsToIgnore: [],
    outboundPortsToIgnore: [],
    subnetsToIgnore: [],
    iptablesMode: 'auto',
    ipv6: 'auto',
    dryRun: false,
    cleanup: false,
    netns: null,
  });
});

test('ok/every-flag-has-a-LANYARD_INIT-variable', () => {
  for (const [key, f] of Object.entries(PROXY_INIT_FLAGS)) {
    const kebab = key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
    expect(f.flag).toBe('--' + kebab);
    expect(f.env).toBe('LANYARD_INIT_' + kebab.toUpperCase().replace(/-/g, '_'));
  }
});

test.each<[string, RawProxyInitConfig, Partial<ProxyInitConfig>]>([
  ['ok/ports', { inboundPort: '15006', outboundPort: ' 15001 ', adminPort: '65535' }, { inboundPort: 15006, outboundPort: 15001, adminPort: 65535 }],
  ['ok/uid-zero-and-gid', { proxyUid: '0', proxyGid: '2103' }, { proxyUid: 0, proxyGid: 2103 }],
  ['ok/empty-gid-is-none', { proxyGid: '' }, { proxyGid: null }],
  [
    'ok/port-list-with-ranges-spaces-and-duplicates',
    { outboundPortsToIgnore: '25, 587,6000-6010,6000:6010,,25' },
    { outboundPortsToIgnore: [{ from: 25, to: 25 }, { from: 587, to: 587 }, { from: 6000, to: 6010 }] },
  ],
  ['ok/one-port-range', { inboundPortsToIgnore: '22-22' }, { inboundPortsToIgnore: [{ from: 22, to: 22 }] }],
  [
    'ok/subnets-canonical',
    { subnetsToIgnore: '10.96.0.0/12, FD00:0:0::/8,192.0.2.1,2001:db8::1,::ffff:10.1.0.0/112' },
    {
      subnetsToIgnore: [
        { family: 4, cidr: '10.96.0.0/12' },
        { family: 6, cidr: 'fd00::/8' },
        { family: 4, cidr: '192.0.2.1/32' },
        { family: 6, cidr: '2001:db8::1/128' },
        { family: 4, cidr: '10.1.0.0/16' },
      ],
    },
  ],
  ['ok/iptables-mode', { iptablesMode: 'Legacy' }, { iptablesMode: 'legacy' }],
  ['ok/ipv6-true-is-on', { ipv6: 'true' }, { ipv6: 'on' }],
  ['ok/ipv6-0-is-off', { ipv6: '0' }, { ipv6: 'off' }],
  ['ok/booleans', { dryRun: 'yes', cleanup: '1' }, { dryRun: true, cleanup: true }],
  ['ok/boolean-false', { dryRun: 'false', cleanup: '' }, { dryRun: false, cleanup: false }],
  ['ok/netns', { netns: 'lanyard-t-1.a_b' }, { netns: 'lanyard-t-1.a_b' }],
])('%s', (_name, raw, want) => {
  expect(parseProxyInitConfig(raw)).toMatchObject(want);
});

test.each<[string, RawProxyInitConfig, RegExp]>([
  ['fail/inbound-port-too-big', { inboundPort: '99999' }, /^--inbound-port: expected a TCP port 1-65535, got "99999"$/],
  ['fail/outbound-port-zero', { outboundPort: '0' }, /^--outbound-port: expected a TCP port/],
  ['fail/admin-port-not-a-number', { adminPort: '41a' }, /^--admin-port: /],
  ['fail/admin-port-empty', { adminPort: '' }, /^--admin-port: expected a TCP port/],
  ['fail/inbound-equals-outbound', { outboundPort: '4143' }, /^--outbound-port: must differ from --inbound-port \(both 4143\)$/],
  ['fail/admin-equals-outbound', { adminPort: '4140' }, /^--admin-port: must differ from --outbound-port/],
  ['fail/uid-negative', { proxyUid: '-1' }, /^--proxy-uid: expected a numeric id/],
  ['fail/uid-name', { proxyUid: 'proxy' }, /^--proxy-uid: expected a numeric id 0-4294967294, got "proxy"$/],
  ['fail/uid-reserved', { proxyUid: '4294967295' }, /^--proxy-uid: /],
  ['fail/gid-name', { proxyGid: 'wheel' }, /^--proxy-gid: /],
  ['fail/port-list-word', { outboundPortsToIgnore: '25,smtp' }, /^--outbound-ports-to-ignore: expected TCP ports 1-65535 such as 25,587,6000-6010 \("smtp" is not one\), got "25,smtp"$/],
  ['fail/port-list-range-reversed', { inboundPortsToIgnore: '6010-6000' }, /^--inbound-ports-to-ignore: expected ranges written low-high \(6000-6010\)/],
  ['fail/port-list-out-of-range', { inboundPortsToIgnore: '1-70000' }, /^--inbound-ports-to-ignore: .*"70000" is not one/],
  ['fail/port-list-open-range', { inboundPortsToIgnore: '6000-' }, /^--inbound-ports-to-ignore: /],
  ['fail/subnet-host-bits', { subnetsToIgnore: '10.0.0.1/8' }, /^--subnets-to-ignore: "10.0.0.1\/8" is not a CIDR: host bits are set \(did you mean 10.0.0.0\/8\?\)$/],
  ['fail/subnet-hostname', { subnetsToIgnore: 'kube-dns' }, /^--subnets-to-ignore: "kube-dns" is not a CIDR$/],
  ['fail/subnet-prefix-too-long', { subnetsToIgnore: '10.0.0.0/33' }, /^--subnets-to-ignore: /],
  ['fail/iptables-mode', { iptablesMode: 'nf' }, /^--iptables-mode: expected auto, nft, legacy, got "nf"$/],
  ['fail/ipv6', { ipv6: 'maybe' }, /^--ipv6: expected auto, on, off, got "maybe"$/],
  ['fail/dry-run', { dryRun: 'perhaps' }, /^--dry-run: expected true or false/],
  ['fail/netns-path', { netns: '../etc' }, /^--netns: expected a network namespace name/],
  ['fail/netns-slash', { netns: 'a/b' }, /^--netns: /],
])('%s', (_name, raw, message) => {
  let err: unknown;
  try {
    parseProxyInitConfig(raw);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(ProxyInitError);
  expect((err as ProxyInitError).code).toBe('ERR_INIT_FLAG');
  expect((err as Error).message).toMatch(message);
});

test('fail/names-the-variable-when-the-value-came-from-the-environment', () => {
  const nameOf = (k: ProxyInitKey) => PROXY_INIT_FLAGS[k].env;
  expect(() => parseProxyInitConfig({ outboundPortsToIgnore: 'abc' }, nameOf)).toThrow(/^LANYARD_INIT_OUTBOUND_PORTS_TO_IGNORE: /);
});
