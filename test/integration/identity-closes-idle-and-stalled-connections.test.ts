/**
 * Connections that do nothing are closed, so idle or stalled clients cannot pile up sockets:
 * against a real `lanyard identity` process with a 1s handshake timeout and a 2s idle
 * timeout,
 * - a TCP connection that never starts TLS is closed at the handshake timeout;
 * - a TLS connection that never sends the HTTP/2 preface is closed at the same timeout;
 * - 50 idle HTTP/2 sessions are sent GOAWAY and closed at the idle timeout;
 * - a proxy's Certify client whose connection was closed for idleness reconnects on its
 *   next call and is served.
 * Each drop is counted in `lanyard_identity_connections_dropped_total{reason}`.
 */
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startIdentityProcess, until, type IdentityProcess } from '../support/identity-process.js';

const HANDSHAKE_MS = 1000;
const IDLE_MS = 2000;
/** Slack for a loaded 2-core machine: a close must come this soon after its deadline. */
const SLACK_MS = 8000;

let svc: IdentityProcess;
beforeAll(async () => {
  svc = await startIdentityProcess(['--handshake-timeout', `${HANDSHAKE_MS}ms`, '--idle-timeout', `${IDLE_MS}ms`]);
});
afterAll(() => svc?.stop());

const host = () => svc.addr.slice(0, svc.addr.lastIndexOf(':'));
const port = () => Number(svc.addr.slice(svc.addr.lastIndexOf(':') + 1));

/** Resolves with how long after the call the socket closed; it reads (and drops) what arrives, so it sees the end. */
function closed(socket: Socket | ClientHttp2Session): Promise<number> {
  const started = Date.now();
  if ('resume' in socket) socket.resume();
  return new Promise((resolve) => socket.once('close', () => resolve(Date.now() - started)));
}

const dropped = (reason: string) => svc.sample(`lanyard_identity_connections_dropped_total{reason="${reason}"}`);

test('a TCP connection that never starts TLS is closed at the handshake timeout', async () => {
  const before = await dropped('tls_handshake');
  const socket = netConnect(port(), host());
  socket.on('error', () => {});
  const after = await closed(socket);
  expect(after).toBeGreaterThanOrEqual(HANDSHAKE_MS - 100);
  expect(after).toBeLessThan(HANDSHAKE_MS + SLACK_MS);
  await until(() => dropped('tls_handshake'), (v) => v === before + 1, 5000, 'the tls_handshake drop counter');
});

test('a TLS connection that never sends the HTTP/2 preface is closed at the handshake timeout', async () => {
  const before = await dropped('http2_preface');
  const socket = tlsConnect({ host: host(), port: port(), ALPNProtocols: ['h2'], rejectUnauthorized: false, servername: svc.servingIdentity });
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('secureConnect', () => resolve()));
  expect(socket.alpnProtocol).toBe('h2');
  const after = await closed(socket);
  expect(after).toBeGreaterThanOrEqual(HANDSHAKE_MS - 100);
  expect(after).toBeLessThan(HANDSHAKE_MS + SLACK_MS);
  await until(() => dropped('http2_preface'), (v) => v === before + 1, 5000, 'the http2_preface drop counter');
});

test('50 idle HTTP/2 sessions get GOAWAY and are closed at the idle timeout', async () => {
  const sessions = Array.from({ length: 50 }, () => h2connect(`https://${svc.addr}`, { rejectUnauthorized: false }));
  const goaways = sessions.map((s) => new Promise<void>((resolve) => s.once('goaway', () => resolve())));
  for (const s of sessions) s.on('error', () => {});
  await Promise.all(sessions.map((s) => new Promise<void>((resolve) => (s.connecting ? s.once('connect', () => resolve()) : resolve()))));
  await until(() => svc.sample('lanyard_identity_connections_open'), (v) => v >= 50, 5000, '50 open connections');
  const started = Date.now();
  await Promise.all([...goaways, ...sessions.map(closed)]);
  const took = Date.now() - started;
  expect(took).toBeLessThan(IDLE_MS + SLACK_MS);
  expect(await until(() => svc.sample('lanyard_identity_connections_open'), (v) => v === 0, 5000, 'no open connection')).toBe(0);
});

test('a Certify client whose idle connection was closed reconnects and is served', async () => {
  const client = svc.client();
  await svc.certify(client);
  expect(await svc.sample('lanyard_identity_connections_open')).toBe(1);
  await until(() => svc.sample('lanyard_identity_connections_open'), (v) => v === 0, IDLE_MS + SLACK_MS, 'the idle connection to close');
  await svc.certify(client);
  expect(await svc.sample('lanyard_identity_connections_open')).toBe(1);
  expect(await svc.sample('grpc_server_handled_total{grpc_type="unary",grpc_service="io.linkerd.proxy.identity.Identity",grpc_method="Certify",grpc_code="OK"}')).toBe(2);
});
