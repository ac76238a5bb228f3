/**
 * Runs the real Prometheus toolchain's `promtool` (Debian's prometheus package; .ci/run
 * installs it). Where it is missing, `promtoolTest` skips with the reason printed, and under
 * CI=true fails instead, so CI can never pass without having run it.
 */
import { execFile, execFileSync } from 'node:child_process';

export const PROMTOOL = ((): string | null => {
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
    return 'promtool';
  } catch {
    return null;
  }
})();

const MISSING = 'promtool is not installed (apt-get install prometheus; .ci/run does it)';

/** `test`, or a skip that says why, or (CI=true) a test that fails because promtool is missing. */
export function promtoolTest(name: string, fn: () => Promise<void>, timeoutMs?: number): void {
  if (PROMTOOL) return test(name, fn, timeoutMs);
  if (process.env.CI === 'true') return test(name, () => Promise.reject(new Error(`${MISSING}, and CI must run this test`)));
  console.warn(`skipping "${name}": ${MISSING}`);
  test.skip(name, fn);
}

export interface PromtoolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function promtool(args: string[], input?: string): Promise<PromtoolResult> {
  return new Promise((resolve) => {
    const child = execFile(PROMTOOL ?? 'promtool', args, { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}
