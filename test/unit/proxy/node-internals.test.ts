/**
 * The Node internals the proxy reads: the start-up self-test passes on this Node, and each
 * accessor, given an object without its internal, fails loudly with the Node version and
 * what is missing (never a silent default that would turn a check into a no-op).
 */
import { createServer, Socket, type Server } from 'node:net';
import { TLSSocket } from 'node:tls';
import { checkNodeInternals, markSecureConnected, NodeInternalsError, socketFd, tlsVerifyError } from '../../../proxy/node-internals.js';

test('ok/the start-up self-test passes on this Node', async () => {
  await expect(checkNodeInternals()).resolves.toBeUndefined();
});

test('ok/each internal works on a real object', async () => {
  const tls = new TLSSocket(new Socket(), { isServer: true });
  const state = tls as unknown as { secureConnecting: boolean };
  expect(state.secureConnecting).toBe(true);
  markSecureConnected(tls);
  expect(state.secureConnecting).toBe(false);
  tls.destroy();
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  expect(Number.isInteger(socketFd(server))).toBe(true);
  expect(socketFd(server)).toBeGreaterThan(2);
  await new Promise<void>((r) => server.close(() => r()));
});

const missing = (f: () => unknown): NodeInternalsError => {
  try {
    f();
  } catch (e) {
    return e as NodeInternalsError;
  }
  throw new Error('did not throw');
};

test.each([
  ['fail/no-verifyError', () => tlsVerifyError({ _handle: {} } as unknown as TLSSocket), 'TLSSocket._handle.verifyError()'],
  ['fail/no-handle-for-verifyError', () => tlsVerifyError({} as unknown as TLSSocket), 'TLSSocket._handle.verifyError()'],
  ['fail/no-secureConnecting', () => markSecureConnected({} as unknown as TLSSocket), 'TLSSocket#secureConnecting'],
  ['fail/no-fd', () => socketFd({ _handle: { fd: undefined } } as unknown as Socket), 'a file descriptor on the TCP handle (_handle.fd is undefined)'],
  ['fail/fd-not-a-number', () => socketFd({ _handle: { fd: -1 } } as unknown as Socket), 'a file descriptor on the TCP handle (_handle.fd is -1)'],
])('%s names the Node version and the internal', (_name, f, what) => {
  const e = missing(f);
  expect(e).toBeInstanceOf(NodeInternalsError);
  expect(e.code).toBe('ERR_LANYARD_NODE_INTERNAL');
  expect(e.missing).toEqual([what]);
  expect(e.message).toBe(`Node ${process.version} lacks ${what}; Lanyard's proxy needs it (see proxy/node-internals.ts)`);
});

test('fail/a closed socket has no handle: a plain error, not a missing internal', () => {
  const e = missing(() => socketFd(new Socket()));
  expect(e).not.toBeInstanceOf(NodeInternalsError);
  expect(e.message).toMatch(/no handle/);
});
