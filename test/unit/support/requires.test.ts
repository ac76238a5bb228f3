/**
 * The helper for tests that cannot always run: met requirements register the test as is; a
 * missing one registers a skipped test whose name carries the reason and prints that reason
 * on stderr; under CI=true it registers a test that fails naming what is missing. Shown on
 * registrations (jest's globals passed in) and on a real child jest run in both modes.
 */
import { jest } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { missingOf, requirements, strictEnvironment, unmet, type JestGlobals } from '../../support/requires.js';
import { ROOT } from '../../support/cli.js';

/** Jest globals that record what was registered. */
function recorder() {
  const seen: { kind: string; name: string; fn: () => unknown }[] = [];
  const t = Object.assign((name: string, fn: () => unknown) => void seen.push({ kind: 'test', name, fn }), {
    skip: (name: string, fn: () => unknown) => void seen.push({ kind: 'test.skip', name, fn }),
  });
  const d = Object.assign((name: string, body: () => void) => void seen.push({ kind: 'describe', name, fn: body }), {
    skip: (name: string, body: () => void) => void seen.push({ kind: 'describe.skip', name, fn: body }),
  });
  return { seen, g: { test: t, describe: d } as JestGlobals };
}

function stderrOf(f: () => void): string {
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    f();
    return spy.mock.calls.map((c) => String(c[0])).join('');
  } finally {
    spy.mockRestore();
  }
}

const MISSING = 'needs root (running as uid 65534); iptables (not on PATH)';

test('ok/met: the test and the describe are registered unchanged', () => {
  const { seen, g } = recorder();
  const fn = () => undefined;
  const r = requirements(null, true, g);
  expect(stderrOf(() => (r.test('t', fn), r.describe('d', fn)))).toBe('');
  expect(seen).toEqual([
    { kind: 'test', name: 't', fn },
    { kind: 'describe', name: 'd', fn },
  ]);
});

test('ok/missing: skipped with the reason in the name and on stderr', () => {
  const { seen, g } = recorder();
  const fn = () => undefined;
  const r = requirements(MISSING, false, g);
  const printed = stderrOf(() => (r.test('writes rules', fn), r.describe('mesh', fn)));
  expect(printed).toBe(`skipped: "writes rules": ${MISSING}\nskipped: "mesh": ${MISSING}\n`);
  expect(seen).toEqual([
    { kind: 'test.skip', name: `writes rules [skipped: ${MISSING}]`, fn },
    { kind: 'describe.skip', name: `mesh [skipped: ${MISSING}]`, fn },
  ]);
});

test('fail/missing under CI=true: a test that fails naming what is missing', () => {
  const { seen, g } = recorder();
  const body = jest.fn();
  const r = requirements(MISSING, true, g);
  r.test('writes rules', () => undefined);
  r.describe('mesh', body);
  expect(seen.map((s) => [s.kind, s.name])).toEqual([
    ['test', 'writes rules'],
    ['describe', 'mesh'],
  ]);
  expect(seen[0].fn).toThrow(`"writes rules" cannot run here: ${MISSING}. CI=true is set, so a test that cannot run fails instead of skipping.`);
  // The describe holds one failing test instead of the body, which never runs.
  (seen[1].fn as () => void)();
  expect(seen[2].name).toBe('its requirements are met');
  expect(seen[2].fn).toThrow(`"mesh" cannot run here: ${MISSING}.`);
  expect(body).not.toHaveBeenCalled();
});

test('ok/probes: a command on PATH, a missing one, root as the uid says, CI values', () => {
  expect(unmet('sh')).toBeNull();
  expect(missingOf(['sh', 'lanyard-no-such-tool'])).toBe('needs lanyard-no-such-tool (not on PATH)');
  expect(unmet('root')).toBe(process.getuid?.() === 0 ? null : `running as uid ${process.getuid?.()}`);
  expect([strictEnvironment({ CI: 'true' }), strictEnvironment({ CI: '1' }), strictEnvironment({ CI: 'false' }), strictEnvironment({})]).toEqual([true, true, false, false]);
});

/** Runs the fixture in a child jest; CI is set or removed as asked. */
function runFixture(ci: boolean) {
  const env: NodeJS.ProcessEnv = { ...process.env, NODE_OPTIONS: '--experimental-vm-modules' };
  delete env.CI;
  if (ci) env.CI = 'true';
  const jestBin = join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js');
  const r = spawnSync(process.execPath, [jestBin, '--testMatch', '**/fixtures/requires.fixture.ts', '--verbose'], { cwd: ROOT, env, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

test('ok/a real jest run: skipped and printed without CI, failed with CI=true', () => {
  const plain = runFixture(false);
  expect(plain.code).toBe(0);
  expect(plain.out).toContain('skipped: "needs a tool that is not installed": needs lanyard-no-such-tool (not on PATH)');
  expect(plain.out).toMatch(/○ skipped needs a tool that is not installed \[skipped: needs lanyard-no-such-tool \(not on PATH\)\]/);
  expect(plain.out).toMatch(/Tests:\s+1 skipped, 1 passed, 2 total/);

  const ci = runFixture(true);
  expect(ci.code).toBe(1);
  expect(ci.out).toContain('"needs a tool that is not installed" cannot run here: needs lanyard-no-such-tool (not on PATH). CI=true is set');
  expect(ci.out).toMatch(/Tests:\s+1 failed, 1 passed, 2 total/);
}, 240_000);
