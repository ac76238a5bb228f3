/**
 * The policy's own IPv4/IPv6 parser and CIDR matcher.
 */
import { isIP } from 'node:net';
import { Cidr, formatIp, parseIp } from '../../../proxy/policy/cidr.js';

const cidr = (text: string): Cidr => {
  const c = Cidr.parse(text);
  if ('error' in c) throw new Error(c.error);
  return c;
};

describe('parseIp', () => {
  test.each<[string, string]>([
    ['ok/v4', '10.1.2.3'],
    ['ok/v4-zero', '0.0.0.0'],
    ['ok/v4-broadcast', '255.255.255.255'],
    ['ok/v6-loopback', '::1'],
    ['ok/v6-unspecified', '::'],
    ['ok/v6-full', '2001:db8:0:0:1:0:0:1'],
    ['ok/v6-compressed-tail', 'fe80::'],
    ['ok/v6-upper-case', 'FD00::ABCD'],
    ['ok/v6-embedded-v4', '64:ff9b::192.0.2.33'],
    ['ok/v4-mapped', '::ffff:10.0.0.1'],
    ['ok/v4-mapped-hex', '::ffff:a00:1'],
    ['ok/v4-mapped-long-form', '0:0:0:0:0:ffff:10.0.0.1'],
    ['fail/v4-octet-over-255', '10.0.0.256'],
    ['fail/v4-leading-zero', '010.0.0.1'],
    ['fail/v4-three-octets', '10.0.1'],
    ['fail/v6-two-gaps', '1::2::3'],
    ['fail/v6-triple-colon', '1:::2'],
    ['fail/v6-too-many-groups', '1:2:3:4:5:6:7:8:9'],
    ['fail/v6-gap-with-eight-groups', '1:2:3:4::5:6:7:8'],
    ['fail/v6-group-too-long', '12345::1'],
    ['fail/v6-v4-not-last', '::1.2.3.4:1'],
    ['fail/v6-trailing-colon', '1:2:3:4:5:6:7:'],
    ['fail/empty', ''],
    ['fail/hostname', 'localhost'],
  ])('%s', (name, text) => {
    const parsed = parseIp(text);
    expect(parsed === null).toBe(name.startsWith('fail/'));
    // Agrees with Node's own parser on whether it is an address at all.
    expect(parsed !== null).toBe(isIP(text) !== 0);
  });

  test.each<[string, string, string]>([
    ['ok/v4-mapped-is-v4', '::ffff:10.0.0.1', '10.0.0.1'],
    ['ok/v4-mapped-hex-is-v4', '::FFFF:0a00:0001', '10.0.0.1'],
    ['ok/v6-canonical', '2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['ok/v6-single-zero-group-not-compressed', '2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['ok/v6-embedded-v4-as-hex', '64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    ['ok/v6-all-zero', '0:0:0:0:0:0:0:0', '::'],
    ['ok/v6-trailing-run', '1:0:0:0:0:0:0:0', '1::'],
  ])('%s', (_name, text, formatted) => {
    expect(formatIp(parseIp(text)!)).toBe(formatted);
  });

  test('ok/zone is dropped only when allowed', () => {
    expect(parseIp('fe80::1%eth0')).toBeNull();
    expect(formatIp(parseIp('fe80::1%eth0', { allowZone: true })!)).toBe('fe80::1');
  });
});

describe('Cidr.parse', () => {
  test.each<[string, string, string]>([
    ['fail/prefix-too-long-v4', '10.0.0.0/33', '"10.0.0.0/33" is not a CIDR'],
    ['fail/prefix-too-long-v6', 'fd00::/129', '"fd00::/129" is not a CIDR'],
    ['fail/prefix-leading-zero', '10.0.0.0/08', '"10.0.0.0/08" is not a CIDR'],
    ['fail/prefix-empty', '10.0.0.0/', '"10.0.0.0/" is not a CIDR'],
    ['fail/two-slashes', '10.0.0.0/8/8', '"10.0.0.0/8/8" is not a CIDR'],
    ['fail/no-address', '/8', '"/8" is not a CIDR'],
    ['fail/zone', 'fe80::%eth0/64', '"fe80::%eth0/64" is not a CIDR'],
    ['fail/mapped-short-prefix', '::ffff:0:0/95', '"::ffff:0:0/95" is not a CIDR'],
    ['fail/host-bits-v4', '10.0.0.1/8', '"10.0.0.1/8" is not a CIDR: host bits are set (did you mean 10.0.0.0/8?)'],
    ['fail/host-bits-v6', 'fd00::1/8', '"fd00::1/8" is not a CIDR: host bits are set (did you mean fd00::/8?)'],
    ['fail/host-bits-mapped', '::ffff:10.0.0.1/104', '"::ffff:10.0.0.1/104" is not a CIDR: host bits are set (did you mean ::ffff:10.0.0.0/104?)'],
  ])('%s', (_name, text, error) => {
    expect(Cidr.parse(text)).toEqual({ error });
  });

  test.each<[string, string, number, number]>([
    ['ok/v4', '10.0.0.0/8', 4, 8],
    ['ok/v4-bare-host', '192.168.1.1', 4, 32],
    ['ok/v4-everything', '0.0.0.0/0', 4, 0],
    ['ok/v6', 'fd00::/8', 6, 8],
    ['ok/v6-bare-host', '2001:db8::1', 6, 128],
    ['ok/v6-everything', '::/0', 6, 0],
    ['ok/mapped-becomes-v4', '::ffff:10.0.0.0/104', 4, 8],
  ])('%s', (_name, text, family, prefix) => {
    const c = cidr(text);
    expect([c.network.family, c.prefix, c.text]).toEqual([family, prefix, text]);
  });
});

describe('Cidr.contains', () => {
  test.each<[string, string, string, boolean]>([
    ['ok/v4-inside', '10.0.0.0/8', '10.255.1.2', true],
    ['ok/v4-outside', '10.0.0.0/8', '11.0.0.1', false],
    ['ok/v4-edge-low', '100.64.0.0/10', '100.64.0.0', true],
    ['ok/v4-edge-high', '100.64.0.0/10', '100.127.255.255', true],
    ['ok/v4-just-past', '100.64.0.0/10', '100.128.0.0', false],
    ['ok/v4-odd-prefix', '172.16.0.0/12', '172.31.255.255', true],
    ['ok/v4-odd-prefix-outside', '172.16.0.0/12', '172.32.0.0', false],
    ['ok/v4-host', '192.168.1.1', '192.168.1.1', true],
    ['ok/v4-host-neighbour', '192.168.1.1', '192.168.1.2', false],
    ['ok/v4-all', '0.0.0.0/0', '8.8.8.8', true],
    ['ok/v4-mapped-peer-in-v4-block', '10.0.0.0/8', '::ffff:10.1.2.3', true],
    ['ok/v4-mapped-peer-outside-v4-block', '10.0.0.0/8', '::ffff:8.8.8.8', false],
    ['ok/mapped-block-matches-v4-peer', '::ffff:10.0.0.0/104', '10.9.9.9', true],
    ['ok/v6-peer-not-in-v4-block', '0.0.0.0/0', '::1', false],
    ['ok/v4-peer-not-in-v6-block', '::/0', '10.0.0.1', false],
    ['ok/v6-inside', 'fd00::/8', 'fd12:3456::1', true],
    ['ok/v6-outside', 'fd00::/8', 'fc00::1', false],
    ['ok/v6-word-boundary-prefix', '2001:db8::/32', '2001:db8:ffff::1', true],
    ['ok/v6-word-boundary-outside', '2001:db8::/32', '2001:db9::1', false],
    ['ok/v6-prefix-across-words', '2001:db8:0:80::/57', '2001:db8:0:ff::1', true],
    ['ok/v6-prefix-across-words-outside', '2001:db8:0:80::/57', '2001:db8:0:7f::1', false],
    ['ok/v6-host', '2001:db8::1', '2001:db8::1', true],
    ['ok/v6-host-neighbour', '2001:db8::1', '2001:db8::2', false],
    ['ok/v6-all', '::/0', '2001:db8::1', true],
  ])('%s', (_name, block, addr, inside) => {
    expect(cidr(block).contains(parseIp(addr)!)).toBe(inside);
  });
});
