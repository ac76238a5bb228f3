/** Locations the CLI defaults to, relative to the Lanyard checkout (not the caller's cwd). */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'lanyard') return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the lanyard package root');
}

/** `certs/dev/`: the embedded development PKI and token-signing key. */
export const defaultDevDir = (): string => join(packageRoot(), 'certs', 'dev');

/** The CLI entry point, for commands that start other Lanyard processes. */
export const cliEntry = (): string => join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
