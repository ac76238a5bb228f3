/**
 * What can be checked of the image without a container engine: every path the Dockerfile
 * copies exists (and is not excluded by .dockerignore), and the runtime stage, rebuilt in a
 * temporary directory from its own COPY lines over `npm ci --omit=dev --ignore-scripts`,
 * runs its entry points: `lanyard` (ENTRYPOINT) and `lanyard-proxy`, with no dev dependency.
 *
 * The install needs the npm registry; where it cannot be reached the install cases skip
 * with the reason, and under CI=true they fail instead.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { ROOT } from '../support/cli.js';
import { requirements, strictEnvironment } from '../support/requires.js';

const DOCKERFILE = join(ROOT, 'src', 'install', 'Dockerfile');

interface Copy {
  stage: string;
  from: string | null;
  sources: string[];
  dest: string;
}

/** COPY instructions by stage (line continuations joined, comments dropped). */
function copies(text: string): Copy[] {
  const lines = text.replace(/\\\n/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  let stage = '';
  const out: Copy[] = [];
  for (const line of lines) {
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) stage = from[1] ?? '';
    const m = /^COPY\s+(.*)$/i.exec(line);
    if (!m) continue;
    const words = m[1].split(/\s+/);
    const flag = words.find((w) => w.startsWith('--from='));
    const args = words.filter((w) => !w.startsWith('--'));
    out.push({ stage, from: flag ? flag.slice('--from='.length) : null, sources: args.slice(0, -1), dest: args[args.length - 1] });
  }
  return out;
}

/** .dockerignore patterns (plain paths and globs without `!`, which is all ours uses). */
function ignored(path: string): boolean {
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  return patterns.some((p) => {
    const re = new RegExp('^' + p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*') + '(/|$)');
    return re.test(path);
  });
}

const COPIES = copies(readFileSync(DOCKERFILE, 'utf8'));
const runtime = COPIES.filter((c) => c.stage === 'runtime');
/** A --from=build source, as this checkout's own build (`npm run build`) produced it. */
const built = (src: string) => join(ROOT, src.replace(/^\/src\//, ''));

describe('the Dockerfile', () => {
  test('ok/it has a build and a runtime stage, and the runtime stage runs as non-root with lanyard as entry point', () => {
    const text = readFileSync(DOCKERFILE, 'utf8');
    expect(text).toMatch(/^FROM \S+ AS build$/m);
    expect(text).toMatch(/^FROM \S+ AS runtime$/m);
    expect(text).toMatch(/^USER 2102:2102$/m);
    expect(text).toMatch(/^ENTRYPOINT \["\/usr\/local\/bin\/lanyard"\]$/m);
    expect(text).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(runtime.length).toBeGreaterThan(4);
  });

  test.each(COPIES.filter((c) => !c.from).flatMap((c) => c.sources.map((s) => [c.stage, s])))('ok/%s stage: COPY %s exists in the build context', (_stage, src) => {
    expect(existsSync(join(ROOT, src))).toBe(true);
    expect(ignored(src)).toBe(false);
  });

  test.each(COPIES.filter((c) => c.from === 'build').flatMap((c) => c.sources.map((s) => [s])))('ok/COPY --from=build %s is what the build produces', (src) => {
    // The build stage runs `tsc -p .` and proxy/native/build.mjs, as `npm run build` does here.
    expect(existsSync(built(src))).toBe(true);
  });

  test('ok/the entry points the manifests name are what the image provides', async () => {
    const { IMAGE_LANYARD, IMAGE_PROXY, IMAGE_ROOT } = await import('../../src/inject/mesh-names.js');
    const text = readFileSync(DOCKERFILE, 'utf8');
    expect(text).toContain(`WORKDIR ${IMAGE_ROOT}`);
    expect(text).toContain(`ln -s ${IMAGE_ROOT}/dist/src/cli/main.js ${IMAGE_LANYARD}`);
    expect(runtime.some((c) => c.dest === 'proxy/bin' && IMAGE_PROXY === `${IMAGE_ROOT}/proxy/bin/lanyard-proxy`)).toBe(true);
  });
});

/** Why the registry cannot be used here, or null. */
function registryProblem(): string | null {
  const r = spawnSync('npm', ['ping'], { encoding: 'utf8', timeout: 30_000 });
  if (r.status === 0) return null;
  return `the npm registry cannot be reached (npm ping: ${(r.stderr || r.error?.message || 'timed out').trim().split('\n').pop()})`;
}
const online = requirements(registryProblem(), strictEnvironment()).describe;

online('the runtime stage from a production-only install', () => {
  let app: string;

  beforeAll(() => {
    app = mkdtempSync(join(tmpdir(), 'lanyard-image-'));
    // The runtime stage, in order: package files, `npm ci --omit=dev --ignore-scripts`, then its COPY lines.
    for (const f of ['package.json', 'package-lock.json']) cpSync(join(ROOT, f), join(app, f));
    execFileSync('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app, stdio: 'pipe', timeout: 240_000 });
    for (const c of runtime.filter((x) => !(x.sources.length === 2 && x.sources[0] === 'package.json'))) {
      for (const src of c.sources) {
        const dest = join(app, c.dest);
        mkdirSync(dirname(dest), { recursive: true });
        cpSync(c.from ? built(src) : join(ROOT, src), dest, { recursive: true });
      }
    }
  }, 300_000);

  afterAll(() => app && rmSync(app, { recursive: true, force: true }));

  const run = (cmd: string, args: string[]) => spawnSync(cmd, args, { cwd: tmpdir(), encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_OPTIONS: '' } });

  test('ok/no dev dependency is installed', () => {
    for (const dev of ['typescript', 'jest', 'kubernetes-models', 'ts-jest', 'fast-check']) expect(existsSync(join(app, 'node_modules', dev))).toBe(false);
    expect(existsSync(join(app, 'node_modules', '@kubernetes', 'client-node'))).toBe(true);
  });

  test('ok/`lanyard --help` (the ENTRYPOINT) loads every sub-command', () => {
    const r = run(process.execPath, [join(app, 'dist', 'src', 'cli', 'main.js'), '--help']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const cmd of ['identity', 'discovery', 'proxy', 'proxy-init', 'install', 'inject', 'injector', 'certs']) expect(r.stdout).toMatch(new RegExp(`^\\s+${cmd}\\b`, 'm'));
  });

  test('ok/`lanyard install` renders from the production install (x509 and yaml at run time)', () => {
    const r = run(process.execPath, [join(app, 'dist', 'src', 'cli', 'main.js'), 'install', '--pki-dir', join(app, 'pki'), '-o', 'json']);
    expect(r.status).toBe(0);
    const kinds = (JSON.parse(r.stdout).items as { kind: string }[]).map((o) => o.kind);
    expect(kinds.filter((k) => k === 'Deployment')).toHaveLength(3);
    expect(kinds[kinds.length - 1]).toBe('MutatingWebhookConfiguration');
  });

  test('ok/`lanyard-proxy` starts through the launcher and checks its configuration', () => {
    const help = run(join(app, 'proxy', 'bin', 'lanyard-proxy'), ['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('LANYARD_PROXY_TRUST_ANCHORS');
    const bad = spawnSync(join(app, 'proxy', 'bin', 'lanyard-proxy'), [], { encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH } });
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toMatch(/\(env LANYARD_PROXY_(TRUST_ANCHORS|LOCAL_IDENTITY)\): required/);
  });

  test('ok/the dashboard page `lanyard dashboard` serves is in the image', () => {
    for (const f of readdirSync(join(ROOT, 'src', 'audit', 'page'))) expect(readFileSync(join(app, 'src', 'audit', 'page', f))).toEqual(readFileSync(join(ROOT, 'src', 'audit', 'page', f)));
  });

  test('ok/the native addon the image copies loads there', () => {
    const r = run(process.execPath, ['--input-type=module', '-e', `const m = await import(${JSON.stringify(join(app, 'dist', 'proxy', 'native', 'index.js'))}); const s = m.nativeStatus(); console.log(JSON.stringify(s));`]);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout.trim())).toMatchObject({ loaded: true });
  });
});
