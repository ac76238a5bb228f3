/**
 * The nat rule set proxy-init writes, for each kind of configuration: the exact rules, in
 * the words iptables-save prints them.
 */
import { parseProxyInitConfig, type RawProxyInitConfig } from '../../../proxy/init/init-config.js';
import { installCommands } from '../../../proxy/init/nat-plan.js';
import { buildNatRules, multiportLists, type IpFamily } from '../../../proxy/init/rules.js';

/** The rules as `iptables -t nat ...` argument lines, in the order they are written. */
function lines(raw: RawProxyInitConfig, family: IpFamily = 4): string[] {
  return installCommands(buildNatRules(parseProxyInitConfig(raw), family)).map((args) => args.join(' '));
}

const CREATE = [
  '-t nat -N LANYARD_INBOUND_REDIRECT',
  '-t nat -N LANYARD_PREROUTING',
  '-t nat -N LANYARD_OUTBOUND_REDIRECT',
  '-t nat -N LANYARD_OUTPUT',
];
const INBOUND_REDIRECT = '-t nat -A LANYARD_INBOUND_REDIRECT -p tcp -m comment --comment lanyard-to-inbound-proxy -j REDIRECT --to-ports 4143';
const SKIP_INBOUND = '-t nat -A LANYARD_PREROUTING -p tcp -m multiport --dports 4143,4191 -m comment --comment lanyard-skip-inbound-ports -j RETURN';
const TO_INBOUND = '-t nat -A LANYARD_PREROUTING -p tcp -m comment --comment lanyard-redirect-inbound -j LANYARD_INBOUND_REDIRECT';
const OUTBOUND_REDIRECT = '-t nat -A LANYARD_OUTBOUND_REDIRECT -p tcp -m comment --comment lanyard-to-outbound-proxy -j REDIRECT --to-ports 4140';
const SKIP_UID = '-t nat -A LANYARD_OUTPUT -m owner --uid-owner 2102 -m comment --comment lanyard-skip-proxy-uid -j RETURN';
const SKIP_LO = '-t nat -A LANYARD_OUTPUT -o lo -m comment --comment lanyard-skip-loopback -j RETURN';
const TO_OUTBOUND = '-t nat -A LANYARD_OUTPUT -p tcp -m comment --comment lanyard-redirect-outbound -j LANYARD_OUTBOUND_REDIRECT';
const JUMPS = [
  '-t nat -A PREROUTING -m comment --comment lanyard-inbound -j LANYARD_PREROUTING',
  '-t nat -A OUTPUT -m comment --comment lanyard-outbound -j LANYARD_OUTPUT',
];

const DEFAULT = [...CREATE, INBOUND_REDIRECT, SKIP_INBOUND, TO_INBOUND, OUTBOUND_REDIRECT, SKIP_UID, SKIP_LO, TO_OUTBOUND, ...JUMPS];

test('ok/default: inbound to 4143 except 4143 and 4191; outbound to 4140 except uid 2102 and lo; jumps last', () => {
  expect(lines({})).toEqual(DEFAULT);
});

test('ok/default-ipv6: the same rules for ip6tables', () => {
  expect(lines({}, 6)).toEqual(DEFAULT);
});

test.each<[string, RawProxyInitConfig, IpFamily, string[]]>([
  [
    'ok/other-ports',
    { inboundPort: '15006', outboundPort: '15001', adminPort: '15020', proxyUid: '1337' },
    4,
    [
      ...CREATE,
      INBOUND_REDIRECT.replace('4143', '15006'),
      SKIP_INBOUND.replace('4143,4191', '15006,15020'),
      TO_INBOUND,
      OUTBOUND_REDIRECT.replace('4140', '15001'),
      SKIP_UID.replace('2102', '1337'),
      SKIP_LO,
      TO_OUTBOUND,
      ...JUMPS,
    ],
  ],
  [
    'ok/inbound-ports-to-ignore-with-range',
    { inboundPortsToIgnore: '22, 6000-6010,4191' },
    4,
    [...CREATE, INBOUND_REDIRECT, SKIP_INBOUND.replace('4143,4191', '4143,4191,22,6000:6010'), TO_INBOUND, OUTBOUND_REDIRECT, SKIP_UID, SKIP_LO, TO_OUTBOUND, ...JUMPS],
  ],
  [
    'ok/outbound-ports-to-ignore',
    { outboundPortsToIgnore: '25,587,6000:6010' },
    4,
    [
      ...CREATE,
      INBOUND_REDIRECT,
      SKIP_INBOUND,
      TO_INBOUND,
      OUTBOUND_REDIRECT,
      SKIP_UID,
      SKIP_LO,
      '-t nat -A LANYARD_OUTPUT -p tcp -m multiport --dports 25,587,6000:6010 -m comment --comment lanyard-skip-outbound-ports -j RETURN',
      TO_OUTBOUND,
      ...JUMPS,
    ],
  ],
  [
    'ok/proxy-gid',
    { proxyGid: '2103' },
    4,
    [
      ...CREATE,
      INBOUND_REDIRECT,
      SKIP_INBOUND,
      TO_INBOUND,
      OUTBOUND_REDIRECT,
      SKIP_UID,
      '-t nat -A LANYARD_OUTPUT -m owner --gid-owner 2103 -m comment --comment lanyard-skip-proxy-gid -j RETURN',
      SKIP_LO,
      TO_OUTBOUND,
      ...JUMPS,
    ],
  ],
  [
    'ok/subnets-ipv4-only-in-iptables',
    { subnetsToIgnore: '10.96.0.0/12,fd00::/8,192.0.2.7' },
    4,
    [
      ...CREATE,
      INBOUND_REDIRECT,
      SKIP_INBOUND,
      TO_INBOUND,
      OUTBOUND_REDIRECT,
      SKIP_UID,
      SKIP_LO,
      '-t nat -A LANYARD_OUTPUT -d 10.96.0.0/12 -m comment --comment lanyard-skip-subnet -j RETURN',
      '-t nat -A LANYARD_OUTPUT -d 192.0.2.7/32 -m comment --comment lanyard-skip-subnet -j RETURN',
      TO_OUTBOUND,
      ...JUMPS,
    ],
  ],
  [
    'ok/subnets-ipv6-only-in-ip6tables',
    { subnetsToIgnore: '10.96.0.0/12,FD00:0::/8' },
    6,
    [
      ...CREATE,
      INBOUND_REDIRECT,
      SKIP_INBOUND,
      TO_INBOUND,
      OUTBOUND_REDIRECT,
      SKIP_UID,
      SKIP_LO,
      '-t nat -A LANYARD_OUTPUT -d fd00::/8 -m comment --comment lanyard-skip-subnet -j RETURN',
      TO_OUTBOUND,
      ...JUMPS,
    ],
  ],
])('%s', (_name, raw, family, want) => {
  expect(lines(raw, family)).toEqual(want);
});

test('ok/ignored-ports-order-everything-before-the-redirect', () => {
  const got = lines({ outboundPortsToIgnore: '25', subnetsToIgnore: '10.0.0.0/8', proxyGid: '7' });
  const output = got.filter((l) => l.includes('-A LANYARD_OUTPUT'));
  expect(output.map((l) => /--comment (\S+)/.exec(l)![1])).toEqual([
    'lanyard-skip-proxy-uid',
    'lanyard-skip-proxy-gid',
    'lanyard-skip-loopback',
    'lanyard-skip-outbound-ports',
    'lanyard-skip-subnet',
    'lanyard-redirect-outbound',
  ]);
});

describe('multiportLists (15 slots per rule, a range takes two)', () => {
  const r = (from: number, to = from) => ({ from, to });
  test.each<[string, { from: number; to: number }[], string[]]>([
    ['ok/empty', [], []],
    ['ok/single', [r(25)], ['25']],
    ['ok/range-uses-colon', [r(6000, 6010)], ['6000:6010']],
    ['ok/fifteen-ports-fit', Array.from({ length: 15 }, (_, i) => r(1000 + i)), [Array.from({ length: 15 }, (_, i) => 1000 + i).join(',')]],
    ['ok/sixteenth-port-starts-a-rule', Array.from({ length: 16 }, (_, i) => r(1000 + i)), [Array.from({ length: 15 }, (_, i) => 1000 + i).join(','), '1015']],
    [
      'ok/range-does-not-straddle',
      [...Array.from({ length: 14 }, (_, i) => r(1000 + i)), r(2000, 2010)],
      [Array.from({ length: 14 }, (_, i) => 1000 + i).join(','), '2000:2010'],
    ],
    ['ok/seven-ranges-and-a-port', [...Array.from({ length: 7 }, (_, i) => r(i * 100 + 1, i * 100 + 9)), r(9999)], ['1:9,101:109,201:209,301:309,401:409,501:509,601:609,9999']],
  ])('%s', (_name, ranges, want) => {
    expect(multiportLists(ranges)).toEqual(want);
  });

  test('ok/many-inbound-ports-become-several-rules', () => {
    const ports = Array.from({ length: 20 }, (_, i) => 5000 + i).join(',');
    const skip = lines({ inboundPortsToIgnore: ports }).filter((l) => l.includes('lanyard-skip-inbound-ports'));
    expect(skip).toHaveLength(2);
    expect(skip[0]).toContain('--dports 4143,4191,5000,');
  });
});
