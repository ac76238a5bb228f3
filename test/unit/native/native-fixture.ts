/**
 * The native addon for tests, and a `describe` that runs only when it is built. Without it,
 * the suite reports why in a single passing test (the pure-Node paths are tested
 * elsewhere), unless LANYARD_REQUIRE_NATIVE=1 — then a missing addon fails the run, as CI
 * on a machine with a compiler should.
 */
import { loadNative, nativeStatus, type NativeAddon } from '../../../proxy/native/index.js';

export const native: NativeAddon | null = loadNative();

export function describeNative(name: string, body: (addon: NativeAddon) => void): void {
  if (native) {
    const addon = native;
    describe(name, () => body(addon));
    return;
  }
  describe(name, () => {
    test('native addon not built: nothing to test', () => {
      const reason = nativeStatus().reason ?? 'not loaded';
      if (process.env.LANYARD_REQUIRE_NATIVE) throw new Error(`LANYARD_REQUIRE_NATIVE is set but ${reason}`);
      process.stderr.write(`${name}: not run: ${reason}\n`);
      expect(reason).toMatch(/npm run build|LANYARD_NATIVE/);
    });
  });
}
