/**
 * After `lanyard proxy-init`, a connection from an app (any UID but the proxy's) to a
 * 10.x address lands on the proxy's outbound port 4140 instead; the same connection from
 * UID 2102 (the proxy dialling the original destination) reaches the real peer, as do
 * ignored ports and anything on loopback. Two namespaces joined by a veth pair: the pod
 * and a peer.
 */
import { lanyard } from '../support/cli.js';
import { NetnsSet, needsNetns, fetchIn, inNs, link, setUp, startServers, type Servers } from './proxy-init-support.js';

const spaces = new NetnsSet();
const servers: Servers[] = [];
afterAll(() => {
  for (const s of servers) s.stop();
  spaces.deleteAll();
});

needsNetns('curl', 'setpriv').test('app traffic is redirected to 4140; the proxy UID, ignored ports and loopback are not', async () => {
  const [pod, peer] = setUp(spaces, ['opod', 'opeer']);
  const addr = link(pod, peer, '10.251.0');
  // A route for every address, as a pod has: the kernel routes before nat OUTPUT redirects.
  inNs(pod, 'ip', 'route', 'add', 'default', 'via', addr.b);
  servers.push(await startServers(peer, [['0.0.0.0', 80, 'peer:80'], ['0.0.0.0', 8081, 'peer:8081']]));
  // Like the real proxy: outbound on loopback, admin on every address.
  servers.push(await startServers(pod, [['127.0.0.1', 4140, 'proxy-outbound'], ['0.0.0.0', 4191, 'proxy-admin']]));

  const peerUrl = `http://${addr.b}:80/`;
  expect(fetchIn(pod, peerUrl, 1000)).toBe('peer:80');

  const run = await lanyard(['proxy-init', '--netns', pod, '--outbound-ports-to-ignore', '8081']);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/IPv4: installed/) });

  expect(fetchIn(pod, peerUrl, 1000)).toBe('proxy-outbound');
  expect(fetchIn(pod, 'http://10.1.2.3:80/', 1000)).toBe('proxy-outbound');
  expect(fetchIn(pod, peerUrl, 2102)).toBe('peer:80');
  expect(fetchIn(pod, `http://${addr.b}:8081/`, 1000)).toBe('peer:8081');
  expect(fetchIn(pod, 'http://127.0.0.1:4191/', 1000)).toBe('proxy-admin');

  // After cleanup the app reaches the peer directly again.
  expect((await lanyard(['proxy-init', '--netns', pod, '--cleanup'])).code).toBe(0);
  expect(fetchIn(pod, peerUrl, 1000)).toBe('peer:80');
}, 60_000);
