/**
 * Tests that need what this machine may lack (root, network namespaces, iptables, the native
 * addon, a tool) declare it:
 *
 *   const netns = requires('root', 'netns', 'iptables');
 *   netns.test('rules are written once', async () => { ... });
 *
 * When everything is there the test runs. When something is missing it is skipped, with the
 * reason in its name (`[skipped: needs root (running as uid 65534)]`) and on stderr; under
 * `CI=true` it fails instead, naming what is missing, so a green CI run means every test ran.
 * A `return` at the top of a test is a pass; that is why nothing here returns early.
 *
 * A requirement is `root`, `netns` (a network namespace can be created), `native addon`
 * (proxy/native built and loadable), or the name of a command that must be on PATH.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { nativeStatus } from '../../proxy/native/index.js';

export type Requirement = 'root' | 'netns' | 'native addon' | (string & {});

export interface Requirements {
  /** What is missing, for people ("needs root (running as uid 65534); iptables (not on PATH)"), or null. */
  readonly missing: string | null;
  /** Whether a missing requirement fails the test instead of skipping it (CI=true). */
  readonly strict: boolean;
  /** `test`, run only when every requirement is met. */
  test(name: string, fn: () => unknown, timeout?: number): void;
  /** `describe`, whose tests and hooks run only when every requirement is met. */
  describe(name: string, body: () => void): void;
}

const cache = new Map<string, string | null>();

/** Why `need` is not met here, or null. Probed once per process. */
export function unmet(need: Requirement): string | null {
  if (!cache.has(need)) cache.set(need, probe(need));
  return cache.get(need)!;
}

/** Every unmet requirement, in one line, or null. */
export function missingOf(needs: readonly Requirement[]): string | null {
  const why = needs.map((n) => [n, unmet(n)] as const).filter(([, w]) => w !== null);
  return why.length ? `needs ${why.map(([n, w]) => `${n} (${w})`).join('; ')}` : null;
}

/** True under CI=true (or CI=1): a test that cannot run must fail there. */
export function strictEnvironment(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.CI === 'true' || env.CI === '1';
}

export function requires(...needs: Requirement[]): Requirements {
  return requirements(missingOf(needs), strictEnvironment());
}

/**
 * The test and describe wrappers for a known outcome (exported for the helper's own test:
 * the jest globals are passed in so it can observe what was registered).
 */
export function requirements(missing: string | null, strict: boolean, g: JestGlobals = globalThis as unknown as JestGlobals): Requirements {
  const failure = (name: string) => new Error(`"${name}" cannot run here: ${missing}. CI=true is set, so a test that cannot run fails instead of skipping.`);
  const note = (name: string) => process.stderr.write(`skipped: "${name}": ${missing}\n`);
  return {
    missing,
    strict,
    test(name, fn, timeout) {
      if (!missing) return g.test(name, fn, timeout);
      if (strict)
        return g.test(name, () => {
          throw failure(name);
        });
      note(name);
      g.test.skip(`${name} [skipped: ${missing}]`, fn);
    },
    describe(name, body) {
      if (!missing) return g.describe(name, body);
      if (strict)
        return g.describe(name, () =>
          g.test('its requirements are met', () => {
            throw failure(name);
          }),
        );
      note(name);
      // describe.skip still collects the body, so every test shows as skipped; no hook runs.
      g.describe.skip(`${name} [skipped: ${missing}]`, body);
    },
  };
}

export interface JestGlobals {
  test: ((name: string, fn: () => unknown, timeout?: number) => void) & { skip: (name: string, fn: () => unknown) => void };
  describe: ((name: string, body: () => void) => void) & { skip: (name: string, body: () => void) => void };
}

function probe(need: Requirement): string | null {
  switch (need) {
    case 'root':
      return process.getuid?.() === 0 ? null : `running as uid ${process.getuid?.() ?? 'unknown'}`;
    case 'netns':
      return probeNetns();
    case 'native addon': {
      const st = nativeStatus();
      return st.loaded ? null : (st.reason ?? 'not loaded');
    }
    default:
      return onPath(need) ? null : 'not on PATH';
  }
}

function onPath(tool: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' }).status === 0;
}

/** Creates and deletes a throwaway namespace (named so .ci/run sweeps it): root alone is not enough in some containers. */
function probeNetns(): string | null {
  if (!onPath('ip')) return 'ip not on PATH';
  const name = `lanyard-t-probe-${process.pid}-${randomBytes(3).toString('hex')}`;
  const add = spawnSync('ip', ['netns', 'add', name], { encoding: 'utf8', timeout: 10_000 });
  if (add.status !== 0) return `cannot create one: ${(add.stderr || add.error?.message || 'failed').trim().split('\n')[0]}`;
  spawnSync('ip', ['netns', 'delete', name], { timeout: 10_000 });
  return null;
}
