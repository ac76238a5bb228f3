/**
 * Runs the built `lanyard` CLI as a child process, as an operator would. The build comes
 * first (`npx tsc -p .`; `npm test` does it in pretest): these tests exercise the shipped
 * JavaScript, not the TypeScript through jest's transform.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/** The CLI entry point; LANYARD_TEST_CLI overrides it (e.g. to test another build). */
export const CLI = resolve(process.env.LANYARD_TEST_CLI ?? 'dist/src/cli/main.js');

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], cwd: string): Promise<CliResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} does not exist: build first with \`npx tsc -p .\``);
  return run(process.execPath, [CLI, ...args], cwd);
}

export function run(cmd: string, args: string[], cwd: string): Promise<CliResult> {
  return new Promise((done) => {
    execFile(cmd, args, { cwd, timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

/** openssl, for checking our output with a tool we did not write. */
export const openssl = (args: string[], cwd: string): Promise<CliResult> => run('openssl', args, cwd);

export function makeTempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'lanyard-certs-cli-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The mode bits of a file, as the octal string `ls -l` users think in. */
export const modeOf = (st: { mode: number }): string => (st.mode & 0o777).toString(8);
