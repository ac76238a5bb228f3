/**
 * The one reloader: it sees every way a file is replaced (rename, kubelet's `..data` swap,
 * rewrite in place, deletion then re-creation), turns a burst of events into one read,
 * keeps the last good value, reports a failure once and its end once, replays the current
 * value to late subscribers, and leaves no watch or timer behind when closed.
 */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WatchedFile, type WatchedFileConfig, type WatchedFileFailure } from '../../../src/util/watched-file.js';
import { writeSecretVolume } from '../../support/secret-volume.js';

let dir: string;
const open: WatchedFile<string, Parsed>[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-watched-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((w) => w.close()));
  rmSync(dir, { recursive: true, force: true });
});

interface Parsed {
  n: number;
}

/** `n=<integer>` is good; anything else is refused naming what it got. */
function parse(text: string): Parsed {
  const m = /^n=(\d+)\n?$/.exec(text);
  if (!m) throw new Error(`expected n=<integer>, got ${JSON.stringify(text.slice(0, 20))}`);
  return { n: Number(m[1]) };
}

/** A WatchedFile over one file, recording what it reports, with waits on those records. */
class Probe {
  reads = 0;
  readonly loaded: number[] = [];
  readonly failed: WatchedFileFailure[] = [];
  readonly recovered: WatchedFileFailure[] = [];
  readonly file: WatchedFile<string, Parsed>;
  private readonly waiters: (() => void)[] = [];

  constructor(path: string, extra: Partial<WatchedFileConfig<string, Parsed>> = {}) {
    this.file = new WatchedFile<string, Parsed>({
      files: [path],
      read: async () => {
        this.reads++;
        this.wake();
        return readFile(path, 'utf8');
      },
      check: parse,
      pollIntervalMs: 600_000, // the poll is far away: only a filesystem event explains a reload
      debounceMs: 20,
      report: {
        loaded: (v) => (this.loaded.push(v.n), this.wake()),
        failed: (f) => (this.failed.push(f), this.wake()),
        recovered: (f) => (this.recovered.push(f), this.wake()),
      },
      ...extra,
    });
    open.push(this.file);
  }

  /** Resolves once `cond` holds, re-checked after each read and report. */
  until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}; loaded ${JSON.stringify(this.loaded)}, ${this.reads} reads`)), ms);
      const check = () => {
        if (!cond()) return this.waiters.push(check);
        clearTimeout(timer);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

const write = (path: string, text: string) => writeFileSync(path, text);
const atomic = (path: string, text: string) => {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
};

test('ok/an atomic rename is seen by the watch', async () => {
  const file = join(dir, 'value');
  write(file, 'n=1');
  const p = new Probe(file);
  await p.file.start();
  expect(p.file.current()).toEqual({ n: 1 });
  atomic(file, 'n=2');
  await p.until(() => p.loaded.includes(2), 'n=2');
  // A second rename: the watch on the file was re-armed on the new inode.
  atomic(file, 'n=3');
  await p.until(() => p.loaded.includes(3), 'n=3');
  expect(p.loaded).toEqual([1, 2, 3]);
});

test('ok/a kubelet ..data symlink swap is seen by the watch, twice in a row', async () => {
  const volume = join(dir, 'volume');
  writeSecretVolume(volume, { value: 'n=1' });
  const p = new Probe(join(volume, 'value'));
  await p.file.start();
  writeSecretVolume(volume, { value: 'n=2' });
  await p.until(() => p.loaded.includes(2), 'n=2');
  writeSecretVolume(volume, { value: 'n=3' });
  await p.until(() => p.loaded.includes(3), 'n=3');
  expect(p.loaded).toEqual([1, 2, 3]);
  expect(p.failed).toEqual([]);
});

test('ok/a rewrite in place is seen by the watch', async () => {
  const file = join(dir, 'value');
  write(file, 'n=1');
  const p = new Probe(file);
  await p.file.start();
  write(file, 'n=22');
  await p.until(() => p.loaded.includes(22), 'n=22');
  expect(p.file.current()).toEqual({ n: 22 });
});

test('ok/the poll alone finds a change, and an idle poll reads nothing', async () => {
  const file = join(dir, 'value');
  write(file, 'n=1');
  const p = new Probe(file, { watch: false, pollIntervalMs: 20 });
  await p.file.start();
  write(file, 'n=2');
  await p.until(() => p.loaded.includes(2), 'n=2 by polling');
  const readsAfterLoad = p.reads;
  // A second file, refused, is read again at every poll of the same period: its reads count polls.
  const bad = join(dir, 'bad');
  write(bad, 'garbage');
  const clock = new Probe(bad, { watch: false, pollIntervalMs: 20 });
  await clock.file.start();
  await clock.until(() => clock.reads >= 10, '10 polls of the refused file');
  expect(p.reads).toBe(readsAfterLoad);
  expect(clock.failed).toHaveLength(1);
});

test('ok/deletion keeps the value and is reported; re-creation loads and reports the recovery', async () => {
  const file = join(dir, 'value');
  write(file, 'n=1');
  const p = new Probe(file);
  await p.file.start();
  rmSync(file);
  await p.until(() => p.failed.length === 1, 'the deletion reported');
  expect(p.failed[0]).toMatchObject({ stage: 'read', error: expect.objectContaining({ code: 'ENOENT' }) });
  expect(p.file.current()).toEqual({ n: 1 });
  expect(p.file.lastFailure()).toBe(p.failed[0]);
  write(file, 'n=2');
  await p.until(() => p.loaded.includes(2), 'n=2 after re-creation');
  expect(p.recovered).toEqual([p.failed[0]]);
  expect(p.file.lastFailure()).toBeNull();
});

test('ok/a burst of writes is one read', async () => {
  const file = join(dir, 'value');
  write(file, 'n=0');
  const p = new Probe(file, { debounceMs: 200 });
  await p.file.start();
  expect(p.reads).toBe(1);
  for (let i = 1; i <= 50; i++) write(file, `n=${i}`);
  await p.until(() => p.loaded.includes(50), 'n=50');
  expect(p.loaded).toEqual([0, 50]);
  expect(p.reads).toBe(2);
});

test('fail/bad, empty or unreadable content keeps the old value; each failure is reported once, polls or not', async () => {
  const file = join(dir, 'value');
  write(file, 'n=1');
  const p = new Probe(file, { pollIntervalMs: 20 });
  await p.file.start();
  write(file, 'n=oops');
  await p.until(() => p.failed.length === 1, 'the bad file reported');
  const reads = p.reads;
  // While the failure lasts each poll reads again; none of those reports it again.
  await p.until(() => p.reads >= reads + 5, 'five more polls');
  expect(p.failed).toHaveLength(1);
  expect(p.failed[0]).toMatchObject({ stage: 'check', error: expect.objectContaining({ message: 'expected n=<integer>, got "n=oops"' }) });
  expect(p.file.current()).toEqual({ n: 1 });

  write(file, '');
  await p.until(() => p.failed.length === 2, 'the empty file reported');
  expect(p.failed[1]).toMatchObject({ stage: 'empty', error: expect.objectContaining({ code: 'ERR_FILE_EMPTY', message: `${file} is empty` }) });
  expect(p.file.current()).toEqual({ n: 1 });

  // Back to the content in force: a recovery, not a new load.
  write(file, 'n=1');
  await p.until(() => p.recovered.length === 1, 'the recovery reported');
  expect(p.loaded).toEqual([1]);
  // The first bad content again is news again.
  write(file, 'n=oops');
  await p.until(() => p.failed.length === 3, 'the bad file reported again');
  expect(p.file.current()).toEqual({ n: 1 });
});

test('ok/a late subscriber is replayed the current value, then sees each new one', async () => {
  const file = join(dir, 'value');
  write(file, 'n=1');
  const listenerErrors: unknown[] = [];
  const p = new Probe(file, { onListenerError: (e) => listenerErrors.push(e) });
  await p.file.start();
  const late: number[] = [];
  const quiet: number[] = [];
  const unsubscribe = p.file.subscribe((v) => late.push(v.n));
  p.file.subscribe((v) => quiet.push(v.n), { replay: false });
  p.file.subscribe(() => {
    throw new Error('a listener bug');
  });
  expect(late).toEqual([1]);
  expect(quiet).toEqual([]);
  write(file, 'n=2');
  await p.until(() => p.loaded.includes(2), 'n=2');
  expect(late).toEqual([1, 2]);
  expect(quiet).toEqual([2]);
  // The throwing listener was replayed and told of n=2; each time the others still ran.
  expect(listenerErrors.map((e) => (e as Error).message)).toEqual(['a listener bug', 'a listener bug']);
  unsubscribe();
  write(file, 'n=3');
  await p.until(() => p.loaded.includes(3), 'n=3');
  expect(late).toEqual([1, 2]);
  expect(quiet).toEqual([2, 3]);
});

test('ok/reload() after a write sees that write, even with a pass already running', async () => {
  const file = join(dir, 'value');
  write(file, 'n=1');
  const p = new Probe(file);
  await p.file.start();
  const running = p.file.reload({ force: true });
  write(file, 'n=2');
  await p.file.reload();
  expect(p.file.current()).toEqual({ n: 2 });
  await running;
});

/** Handles of the kinds the reloader makes that keep the event loop alive. */
function handles(): { watches: number; timers: number } {
  const info = process.getActiveResourcesInfo();
  return { watches: info.filter((t) => t === 'FSEventWrap').length, timers: info.filter((t) => t === 'Timeout').length };
}

test('ok/close stops everything: no watch or timer is left, and later writes are not read', async () => {
  const volume = join(dir, 'volume');
  writeSecretVolume(volume, { value: 'n=1' });
  const baseline = handles();
  // Persistent, so the watches and timers show among the handles that hold the loop.
  const p = new Probe(join(volume, 'value'), { persistent: true, pollIntervalMs: 50 });
  await p.file.start();
  const running = handles();
  // The file, its directory, and the poll.
  expect(running.watches).toBe(baseline.watches + 2);
  expect(running.timers).toBeGreaterThan(baseline.timers);
  writeSecretVolume(volume, { value: 'n=2' });
  const closing = p.file.close();
  await closing;
  // Handles are released on the next turn of the event loop.
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  expect(handles()).toEqual(baseline);
  const reads = p.reads;
  writeSecretVolume(volume, { value: 'n=3' });
  await p.file.reload();
  expect(p.reads).toBe(reads);
  expect(p.file.current()?.n).not.toBe(3);
});
