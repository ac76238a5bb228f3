/**
 * proxy-init's flags: defaults, accepted spellings, and every refusal naming its flag and
 * its LANYARD_INIT_* variable (values parsed by src/util's grammar).
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
  ['fail/inbound-port-too-big', { inboundPort: '99999' }, /^--inbound-port \(env LANYARD_INIT_INBOUND_PORT\): expected a TCP port from 1 to 65535, got "99999"$/],
  ['fail/outbound-port-zero', { outboundPort: '0' }, /^--outbound-port \(env LANYARD_INIT_OUTBOUND_PORT\): expected a TCP port/],
  ['fail/admin-port-not-a-number', { adminPort: '41a' }, /^--admin-port \(env LANYARD_INIT_ADMIN_PORT\): /],
  ['fail/admin-port-empty', { adminPort: '' }, /^--admin-port \(env LANYARD_INIT_ADMIN_PORT\): expected a TCP port/],
  ['fail/inbound-equals-outbound', { outboundPort: '4143' }, /^--outbound-port \(env LANYARD_INIT_OUTBOUND_PORT\): must differ from --inbound-port \(env LANYARD_INIT_INBOUND_PORT\) \(both 4143\)$/],
  ['fail/admin-equals-outbound', { adminPort: '4140' }, /^--admin-port \(env LANYARD_INIT_ADMIN_PORT\): must differ from --outbound-port/],
  ['fail/uid-negative', { proxyUid: '-1' }, /^--proxy-uid \(env LANYARD_INIT_PROXY_UID\): expected an integer from 0 to 4294967294/],
  ['fail/uid-name', { proxyUid: 'proxy' }, /^--proxy-uid \(env LANYARD_INIT_PROXY_UID\): expected an integer from 0 to 4294967294, got "proxy"$/],
  ['fail/uid-reserved', { proxyUid: '4294967295' }, /^--proxy-uid \(env LANYARD_INIT_PROXY_UID\): /],
  ['fail/gid-name', { proxyGid: 'wheel' }, /^--proxy-gid \(env LANYARD_INIT_PROXY_GID\): /],
  ['fail/port-list-word', { outboundPortsToIgnore: '25,smtp' }, /^--outbound-ports-to-ignore \(env LANYARD_INIT_OUTBOUND_PORTS_TO_IGNORE\): expected TCP ports 1-65535 such as 25,587,6000-6010 \("smtp" is not one\), got "25,smtp"$/],
  ['fail/port-list-range-reversed', { inboundPortsToIgnore: '6010-6000' }, /^--inbound-ports-to-ignore \(env LANYARD_INIT_INBOUND_PORTS_TO_IGNORE\): expected ranges written low-high \(6000-6010\)/],
  ['fail/port-list-out-of-range', { inboundPortsToIgnore: '1-70000' }, /^--inbound-ports-to-ignore \(env LANYARD_INIT_INBOUND_PORTS_TO_IGNORE\): .*"70000" is not one/],
  ['fail/port-list-open-range', { inboundPortsToIgnore: '6000-' }, /^--inbound-ports-to-ignore \(env LANYARD_INIT_INBOUND_PORTS_TO_IGNORE\): /],
  ['fail/subnet-host-bits', { subnetsToIgnore: '10.0.0.1/8' }, /^--subnets-to-ignore \(env LANYARD_INIT_SUBNETS_TO_IGNORE\): "10.0.0.1\/8" is not a CIDR: host bits are set \(did you mean 10.0.0.0\/8\?\)$/],
  ['fail/subnet-hostname', { subnetsToIgnore: 'kube-dns' }, /^--subnets-to-ignore \(env LANYARD_INIT_SUBNETS_TO_IGNORE\): "kube-dns" is not a CIDR$/],
  ['fail/subnet-prefix-too-long', { subnetsToIgnore: '10.0.0.0/33' }, /^--subnets-to-ignore \(env LANYARD_INIT_SUBNETS_TO_IGNORE\): /],
  ['fail/iptables-mode', { iptablesMode: 'nf' }, /^--iptables-mode \(env LANYARD_INIT_IPTABLES_MODE\): expected one of auto, nft, legacy, got "nf"$/],
  ['fail/ipv6', { ipv6: 'maybe' }, /^--ipv6 \(env LANYARD_INIT_IPV6\): expected one of auto, on, off, got "maybe"$/],
  ['fail/dry-run', { dryRun: 'perhaps' }, /^--dry-run \(env LANYARD_INIT_DRY_RUN\): expected true or false/],
  ['fail/netns-path', { netns: '../etc' }, /^--netns \(env LANYARD_INIT_NETNS\): expected a network namespace name/],
  ['fail/netns-slash', { netns: 'a/b' }, /^--netns \(env LANYARD_INIT_NETNS\): /],
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

test('fail/a-caller-may-name-options-its-own-way', () => {
  const nameOf = (k: ProxyInitKey) => PROXY_INIT_FLAGS[k].env;
  expect(() => parseProxyInitConfig({ outboundPortsToIgnore: 'abc' }, nameOf)).toThrow(/^LANYARD_INIT_OUTBOUND_PORTS_TO_IGNORE: /);
});
