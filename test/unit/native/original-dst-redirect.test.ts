/**
 * originalDst behind a real iptables REDIRECT, as the transparent proxy will see it: in a
 * network namespace of its own, connections to 127.0.0.2:80 (IPv4), 127.0.0.3:80 (IPv4 to a
 * dual-stack listener) and [fd00::7]:80 (IPv6) are redirected to a local listener, which
 * must read back the address the client dialled. Needs root, network namespaces, `ip`,
 * `iptables` and the native addon; without them it is skipped with the reason printed (a
 * failure under CI=true). The namespace is removed even when the test fails.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { nativeStatus } from '../../../proxy/native/index.js';
import { requires } from '../../support/requires.js';

const NS = `lanyard-t-odst-${process.pid}-${randomBytes(3).toString('hex')}`;

const sh = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15_000 }).toString();
const inNs = (cmd: string, ...args: string[]) => sh('ip', ['netns', 'exec', NS, cmd, ...args]);

/** Runs in the namespace: listens, dials the redirected addresses, prints what originalDst saw. */
const PROBE = `
import { createRequire } from 'node:module';
import net from 'node:net';
const addon = createRequire(process.cwd() + '/')(process.argv[1]);
const ipv6 = process.argv[2] === '1';
function probe(listenHost, listenPort, dialHost, dialPort) {
  return new Promise((resolve, reject) => {
    const server = net.createServer((s) => {
      try { resolve(addon.originalDst(s._handle.fd)); } catch (e) { reject(e); } finally { s.destroy(); server.close(); }
    });
    server.on('error', reject);
    server.listen(listenPort, listenHost, () => net.connect(dialPort, dialHost).on('error', reject));
  });
}
const out = {
  ipv4: await probe('127.0.0.1', 15001, '127.0.0.2', 80),
  dualStack: await probe('::', 15002, '127.0.0.3', 80),
  direct: await probe('127.0.0.1', 15003, '127.0.0.1', 15003),
  ipv6: ipv6 ? await probe('::1', 15004, 'fd00::7', 80) : 'not set up',
};
console.log(JSON.stringify(out));
`;

requires('root', 'netns', 'ip', 'iptables', 'native addon').test('originalDst reads the destination an iptables REDIRECT rewrote (IPv4, dual-stack, IPv6)', () => {
  sh('ip', ['netns', 'add', NS]);
  try {
    inNs('ip', 'link', 'set', 'lo', 'up');
    inNs('iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', '127.0.0.2', '--dport', '80', '-j', 'REDIRECT', '--to-ports', '15001');
    inNs('iptables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', '127.0.0.3', '--dport', '80', '-j', 'REDIRECT', '--to-ports', '15002');
    let ipv6 = false;
    try {
      // An address on lo gives fd00::/64 a route without needing a dummy or veth device.
      inNs('ip', '-6', 'addr', 'add', 'fd00::1/64', 'dev', 'lo', 'nodad');
      inNs('ip6tables', '-t', 'nat', '-A', 'OUTPUT', '-p', 'tcp', '-d', 'fd00::7', '--dport', '80', '-j', 'REDIRECT', '--to-ports', '15004');
      ipv6 = true;
    } catch (e) {
      process.stderr.write(`original-dst-redirect: IPv6 part not run (${(e as Error).message.split('\n')[0]})\n`);
    }
    const out = JSON.parse(inNs(process.execPath, '--input-type=module', '-e', PROBE, nativeStatus().path, ipv6 ? '1' : '0')) as Record<string, unknown>;
    expect(out.ipv4).toEqual({ address: '127.0.0.2', port: 80, family: 4 });
    expect(out.dualStack).toEqual({ address: '127.0.0.3', port: 80, family: 4 });
    expect(out.direct).toBeNull();
    if (ipv6) expect(out.ipv6).toEqual({ address: 'fd00::7', port: 80, family: 6 });
  } finally {
    spawnSync('ip', ['netns', 'del', NS]);
  }
  expect(spawnSync('ip', ['netns', 'list']).stdout.toString()).not.toContain(NS);
});
