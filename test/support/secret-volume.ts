/**
 * Writes files the way kubelet's atomic writer updates a Secret volume: the data lives in a
 * timestamped directory, `..data` points at it, and each visible file is a symlink through
 * `..data`. An update writes a new directory and renames a new `..data` link over the old
 * one (one atomic step), then deletes the old directory.
 */
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

let generation = 0;

export function writeSecretVolume(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const name = `..${new Date().toISOString().replace(/[:.]/g, '_')}.${process.pid}.${generation++}`;
  const target = join(dir, name);
  mkdirSync(target);
  for (const [file, content] of Object.entries(files)) writeFileSync(join(target, file), content, { mode: 0o600 });
  const data = join(dir, '..data');
  const old = existsSync(data) ? readlinkSync(data) : null;
  symlinkSync(name, join(dir, '..data_tmp'));
  renameSync(join(dir, '..data_tmp'), data);
  for (const file of Object.keys(files)) {
    const link = join(dir, file);
    if (!existsSync(link)) symlinkSync(join('..data', file), link);
  }
  if (old) rmSync(join(dir, old), { recursive: true, force: true });
}
