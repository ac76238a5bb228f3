/**
 * Writing PKI material to disk: private keys 0600, certificates 0644, and never over an
 * existing file unless the operator said `--force`. Writes go to a temporary file in the
 * same directory and are renamed into place, so a reader never sees half a key.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { randomBytes } from 'node:crypto';

export interface WriteOptions {
  force?: boolean;
  /** File mode; 0o600 for keys (the default), 0o644 for certificates. */
  mode?: number;
}

export class FileExistsError extends Error {
  constructor(readonly path: string) {
    super(`${path} already exists (use --force to overwrite)`);
    this.name = 'FileExistsError';
  }
}

/** Refuses early when any of `paths` exists and `force` is not set, before anything is written. */
export function checkWritable(paths: string[], force = false): void {
  if (force) return;
  for (const p of paths) if (existsSync(p)) throw new FileExistsError(p);
}

export function writeFileAtomic(path: string, data: string | Uint8Array, opts: WriteOptions = {}): void {
  const mode = opts.mode ?? 0o600;
  if (!opts.force && existsSync(path)) throw new FileExistsError(path);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', mode);
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  chmodSync(tmp, mode); // the umask may have narrowed or widened what openSync asked for
  renameSync(tmp, path);
}

export const writeSecret = (path: string, data: string | Uint8Array, force = false): void =>
  writeFileAtomic(path, data, { force, mode: 0o600 });

export const writePublic = (path: string, data: string | Uint8Array, force = false): void =>
  writeFileAtomic(path, data, { force, mode: 0o644 });
