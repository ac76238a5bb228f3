/**
 * What this build is: the package version, and the git commit it was built from when that
 * can be known without running git or touching the network (the checkout's .git files).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { packageRoot } from './paths.js';

export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

/** The commit HEAD names in the checkout at `root`, or null (no checkout, unreadable, detached garbage). */
export function gitCommit(root: string = packageRoot()): string | null {
  try {
    const dir = gitDir(root);
    if (!dir) return null;
    const head = readFileSync(join(dir, 'HEAD'), 'utf8').trim();
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    const sha = ref ? resolveRef(dir, ref) : head;
    return sha && /^[0-9a-f]{40}([0-9a-f]{24})?$/.test(sha) ? sha : null;
  } catch {
    return null;
  }
}

/** `.git` is a directory, or (worktrees, submodules) a file `gitdir: <path>`. */
function gitDir(root: string): string | null {
  const dotGit = join(root, '.git');
  if (!existsSync(dotGit)) return null;
  if (statSync(dotGit).isDirectory()) return dotGit;
  const target = /^gitdir: (.+)$/m.exec(readFileSync(dotGit, 'utf8'))?.[1]?.trim();
  return target ? resolve(root, target) : null;
}

/** A ref in this git dir, or in the common dir a worktree shares; loose first, then packed. */
function resolveRef(dir: string, ref: string): string | null {
  const common = existsSync(join(dir, 'commondir')) ? readFileSync(join(dir, 'commondir'), 'utf8').trim() : null;
  const dirs = [dir, ...(common ? [isAbsolute(common) ? common : resolve(dir, common)] : [])];
  for (const d of dirs) {
    if (existsSync(join(d, ref))) return readFileSync(join(d, ref), 'utf8').trim();
  }
  for (const d of dirs) {
    const packed = join(d, 'packed-refs');
    if (!existsSync(packed)) continue;
    const line = readFileSync(packed, 'utf8').split('\n').find((l) => l.endsWith(` ${ref}`));
    if (line) return line.split(' ')[0];
  }
  return null;
}
