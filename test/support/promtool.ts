/**
 * Runs the real Prometheus toolchain's `promtool` (Debian's prometheus package; .ci/run
 * installs it). Where it is missing, `promtoolTest` skips with the reason printed, and under
 * CI=true fails instead, so CI can never pass without having run it.
 */
import { execFile } from 'node:child_process';
import { requires } from './requires.js';

const need = requires('promtool');

/** `test` where promtool is installed (apt-get install prometheus; .ci/run does it); else requires()'s skip or CI failure. */
export function promtoolTest(name: string, fn: () => Promise<void>, timeoutMs?: number): void {
  need.test(name, fn, timeoutMs);
}

export interface PromtoolResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function promtool(args: string[], input?: string): Promise<PromtoolResult> {
  return new Promise((resolve) => {
    const child = execFile('promtool', args, { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
    if (input !== undefined) child.stdin!.end(input);
  });
}
