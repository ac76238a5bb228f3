/**
 * The native addon for tests, and a `describe` that runs only when it is built and loads.
 * Without it the suite is skipped with the reason printed (the pure-Node paths are tested
 * elsewhere), and under CI=true it fails: CI builds the addon, so a missing one is a bug.
 */
import { loadNative, type NativeAddon } from '../../../proxy/native/index.js';
import { requires } from '../../support/requires.js';

export const native: NativeAddon | null = loadNative();

/** Stands in while a skipped suite is collected; any use is a bug in the suite. */
const absent = new Proxy({} as NativeAddon, {
  get: (_t, key) => {
    throw new Error(`the native addon is not loaded (a skipped suite used addon.${String(key)} while being collected)`);
  },
});

export function describeNative(name: string, body: (addon: NativeAddon) => void): void {
  requires('native addon').describe(name, () => body(native ?? absent));
}
