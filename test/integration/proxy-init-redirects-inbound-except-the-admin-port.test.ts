/**
 * After `lanyard proxy-init`, a connection arriving on the pod's veth for the app's port
 * 8080 lands on the proxy's inbound port 4143; the admin port 4191 and ignored inbound
 * ports are reached directly.
 */
import { lanyard } from '../support/cli.js';
import { NetnsSet, needsNetns, fetchIn, link, setUp, startServers, type Servers } from './proxy-init-support.js';

const spaces = new NetnsSet();
const servers: Servers[] = [];
afterAll(() => {
  for (const s of servers) s.stop();
  spaces.deleteAll();
});

needsNetns('curl').test('inbound to 8080 lands on 4143; 4191 and ignored ports do not', async () => {
  const [pod, peer] = setUp(spaces, ['ipod', 'ipeer']);
  const addr = link(pod, peer, '10.252.0');
  servers.push(
    await startServers(pod, [
      ['0.0.0.0', 8080, 'app:8080'],
      ['0.0.0.0', 9090, 'app:9090'],
      ['0.0.0.0', 4143, 'proxy-inbound'],
      ['0.0.0.0', 4191, 'proxy-admin'],
    ]),
  );
  expect(fetchIn(peer, `http://${addr.a}:8080/`)).toBe('app:8080');

  const run = await lanyard(['proxy-init', '--netns', pod, '--inbound-ports-to-ignore', '9090']);
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: expect.stringMatching(/IPv4: installed/) });

  expect(fetchIn(peer, `http://${addr.a}:8080/`)).toBe('proxy-inbound');
  expect(fetchIn(peer, `http://${addr.a}:12345/`)).toBe('proxy-inbound');
  expect(fetchIn(peer, `http://${addr.a}:4191/`)).toBe('proxy-admin');
  expect(fetchIn(peer, `http://${addr.a}:9090/`)).toBe('app:9090');
  // The pod's own loopback traffic to the app is not inbound traffic.
  expect(fetchIn(pod, 'http://127.0.0.1:8080/')).toBe('app:8080');
}, 60_000);
