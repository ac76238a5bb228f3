/**
 * proxy/native/build.mjs runs inside `npm ci` (prepare → build), so it must never fail the
 * install: without node-gyp or without a C compiler it prints one line naming what failed
 * and exits 0. Run on a copy of proxy/native, so the real build is untouched.
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../../support/cli.js';

function copyPackage(withNodeModules: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-native-build-'));
  for (const f of ['binding.gyp', 'build.mjs', 'src']) cpSync(join(ROOT, 'proxy', 'native', f), join(dir, 'proxy', 'native', f), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'lanyard', private: true }));
  if (withNodeModules) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

function build(dir: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(dir, 'proxy', 'native', 'build.mjs')], { cwd: dir, env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout }),
    );
  });
}

// With system Node headers the failure is the compiler; otherwise node-gyp may first fail to
// download headers (offline), which is a different, equally clear, line.
const compilerFailure = existsSync('/usr/include/node/node_api.h') ? 'no C compiler' : '[^\\n]+';

test.each([
  ['without node-gyp', false, {}, /^lanyard native addon: not built \(node-gyp is not installed[^\n]*the pure-Node fallbacks will be used\.\n$/],
  ['without a C compiler', true, { CC: '/nonexistent/cc' }, new RegExp(`^lanyard native addon: build failed: ${compilerFailure}[^\\n]*the pure-Node fallbacks will be used \\(details in [^\\n]*build\\.log\\)\\.\\n$`)],
  ['when skipped on request', true, { LANYARD_SKIP_NATIVE: '1' }, /^lanyard native addon: skipped \(LANYARD_SKIP_NATIVE is set\); the pure-Node fallbacks will be used\.\n$/],
] as const)('ok/%s: one line, exit 0', async (_name, withNodeModules, env, line) => {
  const dir = copyPackage(withNodeModules);
  try {
    const r = await build(dir, env);
    expect(r.stdout).toMatch(line);
    expect(r.code).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
