/**
 * The continuous traffic the rotation scenarios send between pods, as a script run by a
 * `node -e` inside a pod's namespace (so through its iptables rules and proxy): half on
 * keep-alive connections, half on new connections.
 */

/** Runs inside a pod: 4 loops (2 keep-alive, 2 new connections) until SIGTERM; one JSON line per failure and per 50 answers. */
export const TRAFFIC = `
const http = require('http');
const [host] = process.argv.slice(1);
let ok = 0, failed = 0, stopped = false;
const once = (agent, path) => new Promise((resolve, reject) => {
  let answered = false;
  const req = http.request({ host, port: 8080, path, agent, timeout: 5000 }, (res) => { answered = true; res.resume(); res.on('end', () => resolve(res.statusCode)); });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => reject(Object.assign(e, { reusedSocket: req.reusedSocket, answered })));
  req.end();
});
// As curl, Go and browsers do (RFC 9112 9.3.1): a GET whose kept-alive connection closed
// before any byte of an answer is sent once more, and said so.
const get = async (agent, path) => {
  try { return await once(agent, path); } catch (e) {
    if (!e.reusedSocket || e.answered || (e.code !== 'ECONNRESET' && e.code !== 'EPIPE')) throw e;
    console.log(JSON.stringify({ retried: path + ': ' + e.message, at: new Date().toISOString() }));
    return once(agent, path);
  }
};
const loop = async (agent, label) => {
  for (let i = 0; !stopped; i++) {
    try {
      const s = await get(agent, '/' + label + '/' + i);
      if (s === 200) { if (++ok % 50 === 0) console.log(JSON.stringify({ ok })); }
      else { failed++; console.log(JSON.stringify({ fail: label + ' ' + i + ': HTTP ' + s, at: new Date().toISOString() })); }
    } catch (e) { failed++; console.log(JSON.stringify({ fail: label + ' ' + i + ': ' + e.message, at: new Date().toISOString() })); }
    await new Promise((r) => setTimeout(r, 20));
  }
};
const loops = [loop(new http.Agent({ keepAlive: true, maxSockets: 1 }), 'kept0'), loop(false, 'fresh1'), loop(new http.Agent({ keepAlive: true, maxSockets: 1 }), 'kept2'), loop(false, 'fresh3')];
console.log(JSON.stringify({ traffic: 'started' }));
process.on('SIGTERM', async () => { stopped = true; await Promise.all(loops); console.log(JSON.stringify({ final: ok, failed })); process.exit(0); });
`;
