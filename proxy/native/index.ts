/**
 * Loads Lanyard's one native addon (proxy/native/build/Release/lanyard_native.node, built by
 * `npm run build`). Callers must work without it: `loadNative()` returns null, and
 * `nativeStatus().reason` says what is missing and how to build it.
 *
 * Imports only node: modules, so src/cli may wire it into the identity service without
 * src/identity depending on proxy/.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export { socketFd } from './socket-fd.js';

export type NativeCurve = 'P-256' | 'P-384';
export type NativeHash = 'sha256' | 'sha384' | 'sha512';

export interface OriginalDestination {
  address: string;
  port: number;
  family: 4 | 6;
}

export interface NativeAddon {
  /**
   * Verifies a DER ECDSA signature over `data` with the SEC1-encoded public `point` (hashing
   * `data` with `hash`). False for every bad input (off-curve point, point at infinity, wrong
   * length, bad DER, empty buffers); throws TypeError only for wrong argument types or an
   * unknown curve/hash name.
   */
  ecdsaVerify(curve: NativeCurve, point: Uint8Array, hash: NativeHash, data: Uint8Array, derSignature: Uint8Array): boolean;
  /**
   * The destination an iptables REDIRECT rewrote, read from an accepted socket's fd
   * (SO_ORIGINAL_DST / IP6T_SO_ORIGINAL_DST). Null when the connection was not redirected;
   * throws an Error with `code` = the errno name (EBADF, ENOTSOCK, ...) otherwise.
   */
  originalDst(fd: number): OriginalDestination | null;
  /**
   * Returns the free memory of glibc's heap to the kernel (malloc_trim(0)): what a burst of
   * connections left behind once they closed. True when something was released; always false
   * without glibc. Absent from an addon built before it existed.
   */
  mallocTrim?(): boolean;
}

/** The addon with its relay (absent from an addon built before it existed). */
export function nativeRelay(): NativeRelay | null {
  const a = loadNative() as (NativeAddon & Partial<NativeRelay>) | null;
  return a && typeof a.relayInit === 'function' ? (a as unknown as NativeRelay) : null;
}

/** What the relay tells JavaScript: `onEvent(kind, id, a, b, c, d)`; see RelayEvent for each kind's arguments. */
export type RelayEventHandler = (kind: number, id: number, a: number, b: number, c: number, d: number) => void;

/** Event kinds and reasons of the relay (proxy/native/src/relay.c). */
export const RelayEvent = {
  /** Server: (stream, connection, port): an OPEN arrived; answer with relayAdmit. */
  DECIDE: 1,
  /** (stream): client: the peer connected the application; server: the application is connected. */
  STARTED: 2,
  /** (stream, fromApp, toApp, reason, detail): the stream is over; reason is a RelayEnd. */
  ENDED: 3,
  /** (connection, reason, streamsCarried): the connection is gone; reason is a RelayClosed. */
  CLOSED: 4,
} as const;

export const RelayEnd = {
  DONE: 0,
  APP_RESET: 1,
  PEER_CLOSED: 2,
  BAD_RECORD: 3,
  IDLE: 4,
  /** Client: the peer answered a non-zero status (detail). */
  REFUSED: 5,
  /** Server: connecting the application failed (detail: errno). */
  APP_CONNECT: 6,
  STATUS_TIMEOUT: 7,
  /** Client: the connection failed before the peer answered; nothing was read from the app, which may be dialled anew. */
  RETRY: 8,
  CLOSED: 9,
  /** Server: relayAdmit refused it with a status (detail). */
  DENIED: 10,
  NO_RESOURCES: 11,
  KEEPALIVE: 12,
} as const;

export const RelayClosed = {
  IDLE: 0,
  PEER_CLOSED: 1,
  BAD_RECORD: 2,
  KEEPALIVE: 3,
  CLOSED_BY_CALLER: 4,
  STREAM_FAILED: 5,
  NO_RESOURCES: 6,
} as const;

export interface RelayOptions {
  idleMs?: number;
  poolIdleMs?: number;
  statusTimeoutMs?: number;
  connectTimeoutMs?: number;
  keepaliveMs?: number;
  maxIdle?: number;
  rekeyAfterRecords?: number;
}

export interface RelayStats {
  connections: number;
  idle: number;
  streams: number;
  failed: number;
  rekeys: number;
  pings: number;
}

/**
 * The relay transport's data path: one native thread carries the bytes of connections whose
 * mutual-TLS handshake Node made, in records sealed with keys from the TLS exporter. Every
 * fd is dup()ed; the caller keeps its own.
 */
export interface NativeRelay {
  relayInit(onEvent: RelayEventHandler, options: RelayOptions): void;
  relayConnect(appFd: number, peerFd: number, sendKey: Uint8Array, recvKey: Uint8Array, connection: number, poolKey: number, stream: number, port: number): void;
  /** The connection taken from `poolKey`'s pool for the stream, or 0 when none is idle. */
  relayAttach(appFd: number, poolKey: number, stream: number, port: number): number;
  relayServe(peerFd: number, sendKey: Uint8Array, recvKey: Uint8Array, connection: number): void;
  /** Status 0: connect the application at host:port; otherwise refuse the stream with that status. */
  relayAdmit(stream: number, status: number, host: string, port: number): void;
  relayClose(connection: number, graceful: boolean): void;
  relayDropPool(poolKey: number): void;
  relayStats(): RelayStats;
}

export interface NativeStatus {
  loaded: boolean;
  /** When not loaded: what is missing and how to build it. */
  reason?: string;
  /** Where the addon is (or would be). */
  path: string;
}

/** Set LANYARD_NATIVE=off to run without the addon even when it is built. */
const DISABLED = /^(0|off|false|no)$/i;

let cached: { addon: NativeAddon | null; status: NativeStatus } | undefined;

/** The addon, or null when it is not built, fails to load, or LANYARD_NATIVE=off. Loaded once. */
export function loadNative(): NativeAddon | null {
  return (cached ??= load()).addon;
}

export function nativeStatus(): NativeStatus {
  return (cached ??= load()).status;
}

/** The addon's path inside the package (the compiled loader in dist/ sits one level deeper). */
export function nativeAddonPath(): string {
  return join(packageRoot(), 'proxy', 'native', 'build', 'Release', 'lanyard_native.node');
}

function load(): { addon: NativeAddon | null; status: NativeStatus } {
  let path = 'proxy/native/build/Release/lanyard_native.node';
  const fail = (reason: string) => ({ addon: null, status: { loaded: false, reason, path } });
  try {
    path = nativeAddonPath();
  } catch (e) {
    return fail((e as Error).message);
  }
  if (DISABLED.test(process.env.LANYARD_NATIVE ?? '')) return fail('disabled by LANYARD_NATIVE');
  if (!existsSync(path)) return fail(`native addon not built (${path} is missing; run \`npm run build\`, which needs a C compiler, make and Python)`);
  let addon: Partial<NativeAddon>;
  try {
    addon = createRequire(import.meta.url)(path) as Partial<NativeAddon>;
  } catch (e) {
    return fail(`native addon at ${path} failed to load (${(e as Error).message}); rebuild it with \`npm run build\``);
  }
  if (typeof addon.ecdsaVerify !== 'function' || typeof addon.originalDst !== 'function') {
    return fail(`native addon at ${path} is stale (missing ecdsaVerify or originalDst); rebuild it with \`npm run build\``);
  }
  return { addon: addon as NativeAddon, status: { loaded: true, path } };
}

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lanyard') return dir;
  }
  throw new Error('cannot find the lanyard package root (package.json with name "lanyard") above proxy/native');
}
