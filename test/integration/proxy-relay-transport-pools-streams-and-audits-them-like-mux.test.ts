/**
 * The relay transport between two real proxies (LANYARD_PROXY_RELAY=true on both): the
 * application's connections through web's outbound reach api's application intact, one after
 * another on one pooled relay connection, and both sides audit each stream with the same
 * fields and verdicts as the mux transport; a refusal by api's policy reads as one on both
 * sides; and a peer that does not serve the relay is reached over mux instead.
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect as tcpConnect } from 'node:net';
import { Mesh, adminJson, identityOf, nthLog, waitUntil, type ProxyProcess, type TcpApp } from '../support/mesh-harness.js';
import { requires } from '../support/requires.js';

const API = identityOf('default', 'api');
const WEB = identityOf('default', 'web');
const RELAY = { LANYARD_PROXY_RELAY: 'true' };
let mesh: Mesh | undefined;

afterEach(() => mesh?.stop());

/** Sends `payload`, half-closes, and collects the answer until the connection closes. */
function through(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => undefined);
    s.once('connect', () => s.end(payload));
    s.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

async function pair(apiEnv: Record<string, string>, webEnv: Record<string, string>): Promise<{ api: ProxyProcess; web: ProxyProcess; app: TcpApp }> {
  mesh = await Mesh.start();
  const app = await mesh.tcpApp((s) => s.pipe(s)); // echoes, and closes after the peer's FIN
  const { api, web } = await mesh.pair({ appPort: app.port, apiEnv, webEnv });
  return { api, web, app };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

const relay = requires('native addon');

relay.describe('the relay transport', () => {
  test('connections in a row share one relay connection, arrive intact, and are audited on both sides', async () => {
    const { api, web, app } = await pair({ ...RELAY, LANYARD_PROXY_DEFAULT_POLICY: 'all-authenticated' }, RELAY);
    const big = randomBytes(3 * 1024 * 1024 + 7);
    expect(sha(await through(web.outbound[0], big))).toBe(sha(big));
    for (let i = 0; i < 5; i++) expect((await through(web.outbound[0], Buffer.from(`ping ${i}`))).toString()).toBe(`ping ${i}`);

    const inbound = await nthLog(api, { event: 'connection', direction: 'inbound' }, 6);
    const records = api.where({ event: 'connection', direction: 'inbound' });
    expect(records).toHaveLength(6);
    for (const r of records) {
      expect(r).toMatchObject({ transport: 'relay', decision: 'allow', peer_identity: WEB, tls: true, close_reason: 'eof', dst: `127.0.0.1:${app.port}`, port: app.port, rule: 'default:all-authenticated' });
      expect(r.session).toBe(records[0].session); // one relay connection carried all six
    }
    expect(records[0]).toMatchObject({ bytes_rx: big.length, bytes_tx: big.length });
    expect(inbound).toMatchObject({ bytes_rx: 6, bytes_tx: 6 });

    await waitUntil(() => web.where({ event: 'connection', direction: 'outbound' }).length === 6, "web's six outbound records");
    const apiCert = await adminJson(api.admin, '/identity');
    for (const r of web.where({ event: 'connection', direction: 'outbound' })) {
      expect(r).toMatchObject({ transport: 'relay', decision: 'allow', close_reason: 'eof', peer_identity: API, expected_identity: API, peer_serial: apiCert.serial });
      expect(r.reason).toMatch(/^mTLS to .* \(relay\)$/);
    }
    // The same field set as every other path's records.
    expect(Object.keys(web.where({ event: 'connection', direction: 'outbound' })[0]).sort()).toEqual(Object.keys(inbound).sort());
  });

  test("a stream api's policy refuses is audited as refused on both sides, and nothing reaches the app", async () => {
    const policy = { ports: {} as Record<string, unknown> };
    const { api, web, app } = await pair({ ...RELAY, LANYARD_PROXY_DEFAULT_POLICY: 'deny', LANYARD_PROXY_POLICY: JSON.stringify(policy) }, RELAY);
    expect((await through(web.outbound[0], Buffer.from('let me in'))).length).toBe(0);
    const out = await web.waitForLog({ event: 'connection', direction: 'outbound' });
    expect(out).toMatchObject({ decision: 'deny', reason: "refused by the peer proxy's policy", close_reason: 'upstream:ERR_LANYARD_RELAY_403', bytes_rx: 0, bytes_tx: 0 });
    const denied = await api.waitForLog({ event: 'connection', direction: 'inbound', close_reason: 'policy-deny' });
    expect(denied).toMatchObject({ transport: 'relay', decision: 'deny', peer_identity: WEB });
    // The session of a peer the policy can never allow is closed after that first answer.
    const session = await api.waitForLog({ event: 'mux_session', direction: 'inbound' });
    expect(session).toMatchObject({ transport: 'relay', close_reason: 'policy-deny', streams: 1 });
    expect(app.received).toHaveLength(0);
  });

  test('a peer that does not serve the relay is reached over mux', async () => {
    const { web } = await pair({}, RELAY);
    expect((await through(web.outbound[0], Buffer.from('over mux'))).toString()).toBe('over mux');
    expect(await web.waitForLog({ event: 'connection', direction: 'outbound' })).toMatchObject({ transport: 'mux', decision: 'allow', close_reason: 'eof' });
  });
});
