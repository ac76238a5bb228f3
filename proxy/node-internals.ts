/**
 * Every Node internal the proxy relies on, in one file, each with why there is no public API.
 * A Node upgrade that removes one must fail loudly at start-up (checkNodeInternals), not turn
 * a security check into a silent no-op: a guard that reads a missing field is always true.
 *
 * Imports only node: modules (proxy/native re-exports socketFd, and src/cli loads that).
 */
import { createServer, Socket, type Server } from 'node:net';
import { TLSSocket } from 'node:tls';

/** Internals this Node does not have (`missing`). `code` is ERR_LANYARD_NODE_INTERNAL. */
export class NodeInternalsError extends Error {
  readonly code = 'ERR_LANYARD_NODE_INTERNAL';
  readonly missing: string[];

  constructor(missing: string | string[]) {
    const list = typeof missing === 'string' ? [missing] : missing;
    super(`Node ${process.version} lacks ${list.join(', ')}; Lanyard's proxy needs ${list.length === 1 ? 'it' : 'them'} (see proxy/node-internals.ts)`);
    this.name = 'NodeInternalsError';
    this.missing = list;
  }
}

type VerifyError = (Error & { code?: string }) | null;

/**
 * OpenSSL's verdict on the peer's chain, kept from the handshake; call it only once the
 * handshake is complete ('secure'): before that, Node 20 dereferences a null SSL and crashes. Only a TLSSocket owned by
 * a tls.Server copies it into `authorized`; inbound TLS is terminated on a socket we already
 * read from (protocol detection), so read it where tls.Server does: `_handle.verifyError()`.
 * @returns null when the chain verified to the anchors, else OpenSSL's error (code: CERT_HAS_EXPIRED, ...)
 * @throws NodeInternalsError when the internal is missing
 */
export function tlsVerifyError(tls: TLSSocket): VerifyError {
  return verifyErrorOf(tls)();
}

/** The bound internal, unread: calling it before a handshake completes crashes Node 20. */
function verifyErrorOf(tls: TLSSocket): () => VerifyError {
  const handle = (tls as unknown as { _handle?: { verifyError?: () => VerifyError } | null })._handle;
  if (!handle || typeof handle.verifyError !== 'function') throw new NodeInternalsError('TLSSocket._handle.verifyError()');
  return handle.verifyError.bind(handle);
}

/**
 * A server TLSSocket made outside tls.Server keeps `secureConnecting` true after its
 * handshake (tls.Server clears it), and HTTP/2 then waits for a 'secureConnect' that never
 * comes. Clear it, as tls.Server does, before handing the socket to HTTP/2.
 * @throws NodeInternalsError when TLSSocket has no such field
 */
export function markSecureConnected(tls: TLSSocket): void {
  const t = tls as unknown as { secureConnecting?: unknown };
  if (typeof t.secureConnecting !== 'boolean') throw new NodeInternalsError('TLSSocket#secureConnecting');
  t.secureConnecting = false;
}

/**
 * The file descriptor behind a TCP socket or server (`_handle.fd` of its TCPWrap, on Unix),
 * for SO_ORIGINAL_DST: Node has no public API for it.
 * @throws Error when the socket is closed or not yet connected (no handle)
 * @throws NodeInternalsError when the handle exposes no descriptor
 */
export function socketFd(socket: Socket | Server): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  if (!handle) throw new Error('socketFd: the socket has no handle (it is closed, or not yet connected)');
  const fd = handle.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) throw new NodeInternalsError(`a file descriptor on the TCP handle (_handle.fd is ${String(fd)})`);
  return fd;
}

/**
 * Stops a TLS socket's TLSWrap from reading its TCP socket (`_handle.readStop()`), for the
 * relay's hand-off (proxy/relay/relay-protocol.ts): from then on the native relay reads the
 * socket, and Node's TLS must not take a byte of it. `pause()` is not enough: it only stops
 * 'data' events, while the TLSWrap keeps reading and decrypting into its buffer.
 * @throws NodeInternalsError when the handle has no readStop()
 */
export function stopTlsReading(tls: TLSSocket): void {
  readStopOf(tls)();
}

function readStopOf(tls: TLSSocket): () => number {
  const handle = (tls as unknown as { _handle?: { readStop?: () => number } | null })._handle;
  if (!handle || typeof handle.readStop !== 'function') throw new NodeInternalsError('TLSSocket._handle.readStop()');
  return handle.readStop.bind(handle);
}

/**
 * Start-up self-test: exercises every internal above on real objects. HTTP/2's open-stream
 * count is not among them: `Http2Session.state` has no `streamsOpen` on Node 20, so streams
 * are counted by proxy/io/session-guard.ts instead.
 * @throws NodeInternalsError listing every internal that is missing, naming the Node version
 */
export async function checkNodeInternals(): Promise<void> {
  const missing: string[] = [];
  const attempt = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      missing.push(...(e instanceof NodeInternalsError ? e.missing : [(e as Error).message]));
    }
  };
  const tls = new TLSSocket(new Socket(), { isServer: true });
  attempt(() => verifyErrorOf(tls)); // present, not called: there is no handshake here
  attempt(() => markSecureConnected(tls));
  attempt(() => readStopOf(tls));
  tls.destroy();
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  attempt(() => socketFd(server));
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (missing.length) throw new NodeInternalsError(missing);
}
