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
