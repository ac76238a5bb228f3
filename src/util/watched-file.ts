/**
 * Files kept current in memory: the one reloader behind every file Lanyard reloads (the
 * issuer, the proxy's policy, trust anchors, static endpoints, a static workload
 * certificate).
 *
 * - **watch**: fs.watch on each file *and* on its directory. The watch on the file sees a
 *   rewrite in place (through a symlink too); the watch on the directory sees what replaces
 *   the file's inode, which a watch on the old inode never reports: an atomic rename, or a
 *   kubelet ConfigMap/Secret update (a new timestamped directory, then `..data` renamed to
 *   it). Watches are re-armed when an inode changes.
 * - **poll**: every `pollIntervalMs`, stat each file (following symlinks). Content is read
 *   again only when an inode, size, mtime or ctime moved, so an idle poll is a few stat
 *   calls; the poll is what makes a lost event (NFS, some FUSE and overlay mounts, a full
 *   inotify queue) harmless.
 * - **coalesce**: events within `debounceMs` of each other make one pass, and passes never
 *   overlap; a request during a pass is served by one pass after it.
 * - **keep the last good value**: `read`, then `check`. Content that cannot be read, is
 *   empty or is refused by `check` leaves the current value in force. A read during which
 *   the files moved (a swap in progress) is read again before anything is judged.
 * - **report once**: a failure is reported when it appears and again only when it changes,
 *   not at each poll; while it lasts, each poll tries again. The return to good content is
 *   reported as a recovery.
 * - **replay**: a subscriber is called at once with the current value, then with each new
 *   one, like grpc-js's certificate providers.
 */
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { types } from 'node:util';
import { timerDelay } from './duration.js';
import { FileWatches, snapshot, type Snapshot } from './file-watches.js';

/** What `read` returns: one file's text, or several files' texts by name. */
export type FileContent = string | Readonly<Record<string, string>>;

export type WatchedFileErrorCode = 'ERR_FILE_EMPTY';

export class WatchedFileError extends Error {
  constructor(
    readonly code: WatchedFileErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'WatchedFileError';
  }
}

export interface WatchedFileFailure {
  /** `read`: `read` threw; `empty`: the content has no characters; `check`: `check` threw. */
  stage: 'read' | 'empty' | 'check';
  error: Error;
  /** When this failure was first seen (ms since the epoch). */
  since: number;
}

/** How a holder hears about loads, failures and recoveries (for its logs and metrics). */
export interface WatchedFileReporter<T> {
  /** A new value is in force (the first one too: `previous` is undefined). */
  loaded?(value: T, previous: T | undefined, digest: string): void;
  /** A failure not reported before; `current` is the value that stays in force. */
  failed?(failure: WatchedFileFailure, current: T | undefined): void;
  /** The failure is over: good content again, new or the same as before. */
  recovered?(failure: WatchedFileFailure, current: T): void;
}

export interface WatchedFileConfig<C extends FileContent, T> {
  /** The files `read` reads; a change in any of them means a new pass. A file may be missing. */
  files: readonly string[];
  /** Reads the files. Throws when they cannot be read. */
  read: () => Promise<C>;
  /** Checks the content and builds the value. Throws when the content is refused. */
  check: (content: C) => T;
  /** What the files are, in messages. Default: the files, comma-separated. */
  name?: string;
  /** Stat period. Default 5s. */
  pollIntervalMs?: number;
  /** Quiet time after a filesystem event before a pass, so a burst is one pass. Default 50ms. */
  debounceMs?: number;
  report?: WatchedFileReporter<T>;
  /** Whether the watches and timers keep the process alive (like fs.watch's option). Default false. */
  persistent?: boolean;
  /**
   * Watch the files. Default true. False leaves the poll alone: for mounts whose events
   * cannot be trusted at all, and for tests that prove the poll by itself.
   */
  watch?: boolean;
  /** Called when a subscriber or reporter throws (the others still run). Default: process.emitWarning. */
  onListenerError?: (error: unknown) => void;
}

interface PassOptions {
  /** Check the content even when it is what is in force (e.g. the check's inputs changed). */
  force: boolean;
  /** Read even when nothing moved, if a failure is outstanding (the poll's retry). */
  retry: boolean;
}

type Outcome<C> = { content: C } | { error: Error };

/** Reads during which the files moved are retried this many times before being judged. */
const SETTLE_ATTEMPTS = 3;
/** A burst of events postpones the pass by at most this many debounce periods. */
const MAX_BURST_PERIODS = 10;

export class WatchedFile<C extends FileContent, T> {
  private value: T | undefined;
  private digest = '';
  private seen = '';
  private failure: WatchedFileFailure | null = null;
  private failureKey = '';
  private readonly targets: string[];
  private readonly watches: FileWatches;
  private readonly listeners = new Set<(value: T) => void>();
  private readonly sleeps = new Set<{ timer: NodeJS.Timeout; wake: () => void }>();
  private poll: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private burstStart = 0;
  private running: Promise<void> | null = null;
  private queued: { options: PassOptions; done: Promise<void> } | null = null;
  private started = false;
  private closed = false;

  constructor(private readonly cfg: WatchedFileConfig<C, T>) {
    const dirs = cfg.files.map((f) => dirname(f));
    this.targets = [...new Set([...cfg.files, ...dirs])];
    this.watches = new FileWatches(cfg.persistent ?? false, () => this.schedule());
  }

  /** The value in force, or undefined if no content has passed `check` yet. */
  current(): T | undefined {
    return this.value;
  }

  /** The failure reported last and not yet over, or null. */
  lastFailure(): WatchedFileFailure | null {
    return this.failure;
  }

  /** Reads once, then watches and polls. Never throws: see current() and lastFailure(). */
  async start(): Promise<void> {
    if (this.started || this.closed) return;
    this.started = true;
    await this.request({ force: false, retry: true });
    if (this.closed) return;
    this.poll = this.timer(setInterval(() => void this.request({ force: false, retry: true }), timerDelay(this.cfg.pollIntervalMs ?? 5_000)));
  }

  /**
   * Runs a pass now (after the one in progress, if any) and resolves when it is done, so a
   * caller that has just written the files sees its own write.
   */
  reload(opts: { force?: boolean } = {}): Promise<void> {
    return this.request({ force: opts.force ?? false, retry: true });
  }

  /**
   * Calls `listener` with each new value, and at once with the current one unless
   * `replay` is false. Returns an unsubscribe.
   */
  subscribe(listener: (value: T) => void, opts: { replay?: boolean } = {}): () => void {
    this.listeners.add(listener);
    if ((opts.replay ?? true) && this.value !== undefined) this.guard(() => listener(this.value as T));
    return () => void this.listeners.delete(listener);
  }

  /** Stops every watch and timer; resolves once a pass in progress has given up. */
  close(): Promise<void> {
    this.closed = true;
    this.watches.close();
    if (this.poll) clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
    this.poll = this.debounce = null;
    for (const s of this.sleeps) {
      clearTimeout(s.timer);
      s.wake();
    }
    this.sleeps.clear();
    this.listeners.clear();
    return (this.queued?.done ?? this.running ?? Promise.resolve()).then(() => undefined);
  }

  private request(options: PassOptions): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.queued) {
      this.queued.options = { force: this.queued.options.force || options.force, retry: this.queued.options.retry || options.retry };
      return this.queued.done;
    }
    if (!this.running) return this.run(options);
    const queued = { options, done: Promise.resolve() };
    queued.done = this.running.then(() => {
      this.queued = null;
      return this.closed ? undefined : this.run(queued.options);
    });
    this.queued = queued;
    return queued.done;
  }

  private run(options: PassOptions): Promise<void> {
    const pass = this.pass(options)
      .catch((e: unknown) => this.listenerError(e))
      .finally(() => {
        if (this.running === pass) this.running = null;
      });
    this.running = pass;
    return pass;
  }

  private async pass(options: PassOptions): Promise<void> {
    let before = await this.snapshot();
    const retrying = options.retry && this.failure !== null;
    if (!options.force && !retrying && before.sig === this.seen) return this.rearm(before);
    for (let attempt = 0; ; attempt++) {
      const outcome = await this.readOnce();
      const after = await this.snapshot();
      if (this.closed) return;
      if (after.sig !== before.sig && attempt < SETTLE_ATTEMPTS) {
        // The files moved while we read them (a swap or a write in progress): read again.
        before = after;
        await this.sleep(this.cfg.debounceMs ?? 50);
        if (this.closed) return;
        continue;
      }
      // When they never settled, the next poll reads again (what was read may be stale).
      this.seen = after.sig === before.sig ? after.sig : '';
      this.rearm(after);
      return this.judge(outcome, options.force);
    }
  }

  private async readOnce(): Promise<Outcome<C>> {
    try {
      return { content: await this.cfg.read() };
    } catch (e) {
      return { error: toError(e) };
    }
  }

  private judge(outcome: Outcome<C>, force: boolean): void {
    if ('error' in outcome) return this.fail('read', outcome.error);
    const content = outcome.content;
    if (isEmpty(content)) return this.fail('empty', new WatchedFileError('ERR_FILE_EMPTY', `${this.name()} is empty`));
    const digest = digestOf(content);
    if (digest === this.digest && !force) return this.recover();
    let value: T;
    try {
      value = this.cfg.check(content);
    } catch (e) {
      return this.fail('check', toError(e));
    }
    this.install(value, digest);
  }

  private install(value: T, digest: string): void {
    const previous = this.value;
    const failure = this.failure;
    this.value = value;
    this.digest = digest;
    this.failure = null;
    this.failureKey = '';
    this.guard(() => this.cfg.report?.loaded?.(value, previous, digest));
    if (failure) this.guard(() => this.cfg.report?.recovered?.(failure, value));
    for (const l of [...this.listeners]) this.guard(() => l(value));
  }

  private fail(stage: WatchedFileFailure['stage'], error: Error): void {
    const key = `${stage}\0${error.message}`;
    if (this.failure && key === this.failureKey) return; // the same failure: reported already
    this.failure = { stage, error, since: Date.now() };
    this.failureKey = key;
    const failure = this.failure;
    this.guard(() => this.cfg.report?.failed?.(failure, this.value));
  }

  private recover(): void {
    const failure = this.failure;
    if (!failure || this.value === undefined) return;
    this.failure = null;
    this.failureKey = '';
    const value = this.value;
    this.guard(() => this.cfg.report?.recovered?.(failure, value));
  }

  private snapshot(): Promise<Snapshot> {
    return snapshot(this.targets, this.cfg.files);
  }

  private rearm(now: Snapshot): void {
    if (!this.closed && this.cfg.watch !== false) this.watches.rearm(now.inodes);
  }

  private schedule(): void {
    if (this.closed) return;
    const period = this.cfg.debounceMs ?? 50;
    if (this.debounce) {
      if (Date.now() - this.burstStart >= period * MAX_BURST_PERIODS) return; // let the burst's pass run
      clearTimeout(this.debounce);
    } else {
      this.burstStart = Date.now();
    }
    this.debounce = this.timer(
      setTimeout(() => {
        this.debounce = null;
        void this.request({ force: false, retry: false });
      }, period),
    );
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((wake) => {
      const entry = { timer: this.timer(setTimeout(() => (this.sleeps.delete(entry), wake()), ms)), wake };
      this.sleeps.add(entry);
    });
  }

  private timer<X extends NodeJS.Timeout>(t: X): X {
    if (!(this.cfg.persistent ?? false)) t.unref();
    return t;
  }

  private guard(f: () => void): void {
    try {
      f();
    } catch (e) {
      this.listenerError(e);
    }
  }

  private listenerError(e: unknown): void {
    if (this.cfg.onListenerError) this.cfg.onListenerError(e);
    else process.emitWarning(`${this.name()}: a listener threw: ${toError(e).message}`);
  }

  private name(): string {
    return this.cfg.name ?? this.cfg.files.join(', ');
  }
}

function isEmpty(content: FileContent): boolean {
  return typeof content === 'string' ? content.length === 0 : Object.values(content).every((v) => v.length === 0);
}

/** A digest of the content, so unchanged content is neither checked nor announced again. */
function digestOf(content: FileContent): string {
  const h = createHash('sha256');
  if (typeof content === 'string') return h.update(content).digest('hex');
  for (const k of Object.keys(content).sort()) h.update(k).update('\0').update(content[k]).update('\0');
  return h.digest('hex');
}

/** isNativeError, not instanceof: errors from node:fs belong to another realm under a VM (jest). */
function toError(e: unknown): Error {
  return e instanceof Error || types.isNativeError(e) ? (e as Error) : new Error(String(e));
}
