/**
 * The two ways the reloader (watched-file.ts) notices a change: fs.watch handles on files and
 * directories, re-armed wherever an inode changed, and stat snapshots whose signatures
 * differ when a file's identity, size or times moved.
 */
import { watch, type BigIntStats, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';

export interface Snapshot {
  /** The files' identities and times; equal signatures mean nothing to read. */
  sig: string;
  /** Device and inode of each watch target (files and their directories), null when absent. */
  inodes: Map<string, string | null>;
}

/** Stats `targets` (following symlinks); `files` among them make the signature. */
export async function snapshot(targets: readonly string[], files: readonly string[]): Promise<Snapshot> {
  const stats = await Promise.all(targets.map((p) => stat(p, { bigint: true }).then((s) => s, (e: NodeJS.ErrnoException) => e.code ?? 'error')));
  const inodes = new Map<string, string | null>();
  const parts: string[] = [];
  targets.forEach((p, i) => {
    const s = stats[i];
    inodes.set(p, typeof s === 'string' ? null : `${s.dev}:${s.ino}`);
    if (files.includes(p)) parts.push(signature(s));
  });
  return { sig: parts.join('|'), inodes };
}

function signature(s: BigIntStats | string): string {
  return typeof s === 'string' ? s : `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
}

export class FileWatches {
  private readonly held = new Map<string, { watcher: FSWatcher; inode: string }>();

  constructor(
    private readonly persistent: boolean,
    private readonly onEvent: () => void,
  ) {}

  /**
   * Watches every target that exists, again wherever its inode changed: after a rename or a
   * `..data` swap, a watch on the old inode would go quiet.
   */
  rearm(inodes: Map<string, string | null>): void {
    for (const [path, inode] of inodes) {
      const held = this.held.get(path);
      if (held && held.inode === inode) continue;
      held?.watcher.close();
      this.held.delete(path);
      if (inode !== null) this.add(path, inode);
    }
  }

  close(): void {
    for (const { watcher } of this.held.values()) watcher.close();
    this.held.clear();
  }

  private add(path: string, inode: string): void {
    try {
      const watcher = watch(path, { persistent: this.persistent }, () => this.onEvent());
      watcher.on('error', () => {
        // The target went away; the next pass re-arms it if it comes back.
        watcher.close();
        if (this.held.get(path)?.watcher === watcher) this.held.delete(path);
      });
      this.held.set(path, { watcher, inode });
    } catch {
      // Out of inotify watches, or gone between stat and watch: the poll still sees changes.
    }
  }
}
