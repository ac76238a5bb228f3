#!/usr/bin/env node
/**
 * Builds the native addon (proxy/native/build/Release/lanyard_native.node) with the project's
 * own node-gyp. Run by `npm run build`, hence by `npm ci` (prepare).
 *
 * It never fails the install: everything the addon does has a pure-Node fallback (CSR
 * verification) or a clear error at the point of use (SO_ORIGINAL_DST). On failure it prints
 * one line saying what failed, keeps node-gyp's output in build/build.log, and exits 0.
 *
 * Headers: when the system's Node ships its development headers (/usr/include/node, e.g. the
 * NodeSource packages) node-gyp uses them (--nodedir=/usr), so no download is needed;
 * otherwise node-gyp fetches the headers matching this Node, as it always does.
 * LANYARD_SKIP_NATIVE=1 skips the build.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const FALLBACK = 'the pure-Node fallbacks will be used';

function packageRoot() {
  for (let dir = here, i = 0; i < 6; i++, dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'lanyard') return dir;
  }
  return null;
}

/** One line about why a build failed, from node-gyp's output (its "gyp info" lines aside). */
function diagnose(output) {
  const text = output
    .split('\n')
    .filter((l) => !l.startsWith('gyp info'))
    .join('\n');
  const checks = [
    [/gyp ERR! find Python|Could not find any Python/i, 'no Python for node-gyp'],
    [/spawn make ENOENT|make: (command )?not found|not found: make/i, 'no make'],
    [/No such file or directory: '[^']*\b(cc|gcc|clang)'|\b(cc|gcc|clang)(: command)?: not found|\b(cc|gcc|clang): No such file|C compiler cannot/i, 'no C compiler (install gcc or clang)'],
    [/fatal error: ((?:openssl\/)?[\w.]+\.h)/, (m) => `missing header ${m[1]}`],
    [/gyp ERR! .*(\d{3} status code|getaddrinfo|ECONNREFUSED|ETIMEDOUT|unable to get local issuer)/i, 'cannot download the Node headers'],
    [/make: \*\*\* \[[^\]]*\.o\] Error (\d+)/, (m) => (m[1] === '127' ? 'no C compiler (install gcc or clang)' : 'the C compiler failed')],
    [/undefined reference to `?(\w+)/, (m) => `link error (undefined ${m[1]})`],
    [/error: [^\n]+/, (m) => `compile error (${m[0].slice(0, 120)})`],
  ];
  for (const [re, what] of checks) {
    const m = re.exec(text);
    if (m) return typeof what === 'function' ? what(m) : what;
  }
  const last = text.trim().split('\n').filter((l) => /ERR!|error/i.test(l) && !/not ok|stack at /.test(l)).shift();
  return last ? `node-gyp failed (${last.replace(/^gyp ERR! /, '').slice(0, 120)})` : 'node-gyp failed';
}

function main() {
  if (process.env.LANYARD_SKIP_NATIVE) {
    console.log(`lanyard native addon: skipped (LANYARD_SKIP_NATIVE is set); ${FALLBACK}.`);
    return;
  }
  const root = packageRoot();
  const gyp = root && join(root, 'node_modules', '.bin', 'node-gyp');
  if (!gyp || !existsSync(gyp)) {
    console.log(`lanyard native addon: not built (node-gyp is not installed; it is a devDependency); ${FALLBACK}.`);
    return;
  }
  const args = ['rebuild'];
  if (existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
  const r = spawnSync(gyp, args, { cwd: here, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 });
  const output = `$ node-gyp ${args.join(' ')}\n${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? `\n${r.error.message}\n` : ''}`;
  const logFile = join(here, 'build', 'build.log');
  mkdirSync(dirname(logFile), { recursive: true });
  writeFileSync(logFile, output);
  const addon = join(here, 'build', 'Release', 'lanyard_native.node');
  const where = relative(process.cwd(), logFile) || logFile;
  if (r.status === 0 && existsSync(addon)) {
    console.log(`lanyard native addon: built ${relative(process.cwd(), addon) || addon}`);
  } else {
    console.log(`lanyard native addon: build failed: ${diagnose(output)}; ${FALLBACK} (details in ${where}).`);
  }
}

try {
  main();
} catch (e) {
  console.log(`lanyard native addon: build failed: ${e.message}; ${FALLBACK}.`);
}
process.exitCode = 0;
