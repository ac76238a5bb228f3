/**
 * `lanyard version` says what is installed without touching the network: the package
 * version, the git commit of the checkout it runs from, Node's version, the platform and
 * whether the native addon loaded (and why not). `-o json` gives the same for scripts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lanyard, ROOT } from '../support/cli.js';

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
const head = (() => {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
})();

test('-o json: version, commit, node, platform, native addon', async () => {
  const r = await lanyard(['version', '-o', 'json']);
  expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
  const v = JSON.parse(r.stdout) as Record<string, unknown>;
  expect(v).toEqual({
    version: pkg.version,
    commit: head,
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    nativeAddon: expect.objectContaining({ loaded: expect.any(Boolean), path: expect.stringContaining('lanyard_native.node') }),
  });
  const addon = v.nativeAddon as { loaded: boolean; reason?: string };
  if (!addon.loaded) expect(addon.reason).toMatch(/./);
}, 30_000);

test('LANYARD_NATIVE=off reports the addon as not loaded, with the reason', async () => {
  const r = await lanyard(['version', '--output', 'json'], { LANYARD_NATIVE: 'off' });
  expect(JSON.parse(r.stdout).nativeAddon).toMatchObject({ loaded: false, reason: expect.stringMatching(/LANYARD_NATIVE/) });
}, 30_000);

test('text: one line per fact', async () => {
  const r = await lanyard(['version']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`^lanyard ${pkg.version.replace(/\./g, '\\.')}${head ? ` \\(${head.slice(0, 12)}\\)` : ''}\\n`));
  expect(r.stdout).toContain(`node          ${process.version} ${process.platform}/${process.arch}`);
  expect(r.stdout).toMatch(/native addon {2}(loaded|not loaded: .+)/);
}, 30_000);
