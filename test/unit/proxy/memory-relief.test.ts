/**
 * MemoryRelief: trims only after a burst (at least minClosed connections closed since the
 * last burst), then on the next few ticks (to catch what the garbage collector frees later),
 * and not again until the next burst. And the real malloc_trim, through the addon, when built.
 */
import { loadNative, nativeStatus } from '../../../proxy/native/index.js';
import { MemoryRelief, type MemoryReliefConfig } from '../../../proxy/io/memory-relief.js';
import { LogSink } from '../../support/log-sink.js';
import { requirements, strictEnvironment } from '../../support/requires.js';

function relief(closed: { n: number }, more: Partial<MemoryReliefConfig> = {}) {
  const trims: number[] = [];
  const sink = new LogSink();
  const r = new MemoryRelief({ trim: () => (trims.push(closed.n), true), closed: () => closed.n, minClosed: 100, ticks: 3, logger: sink.logger(), ...more });
  return { r, trims, sink };
}

test('ok/no trim until minClosed connections have closed since the last burst', () => {
  const closed = { n: 0 };
  const { r, trims } = relief(closed);
  for (let i = 0; i < 4; i++) {
    closed.n += 20;
    r.tick();
  }
  expect(trims).toEqual([]);
  closed.n += 20; // 100 now
  r.tick();
  expect(trims).toEqual([100]);
});

test('ok/a burst: three trims on the next ticks, then none until the next burst', () => {
  const closed = { n: 0 };
  const { r, trims, sink } = relief(closed);
  r.tick();
  expect(trims).toEqual([]);
  closed.n = 500;
  for (let i = 0; i < 6; i++) r.tick();
  expect(trims).toEqual([500, 500, 500]);
  closed.n = 550;
  r.tick();
  expect(trims).toHaveLength(3);
  closed.n = 700;
  r.tick();
  expect(trims).toHaveLength(4);
  expect(sink.where({ event: 'memory_trimmed', released: true })).toHaveLength(4);
  expect(typeof sink.where({ event: 'memory_trimmed' })[0].rss_after_mb).toBe('number');
});

test('ok/a bulk burst (minMovedBytes moved) trims too, each trim after a full collection', () => {
  const moved = { n: 0 };
  const events: string[] = [];
  const { r, sink } = relief(
    { n: 0 },
    { trim: () => (events.push(`trim@${moved.n}`), true), moved: () => moved.n, minMovedBytes: 1000, collect: () => events.push('collect'), ticks: 2 },
  );
  moved.n = 999;
  r.tick();
  expect(events).toEqual([]);
  moved.n = 1999; // 1999 moved since the start: a burst
  r.tick();
  expect(events).toEqual(['collect', 'trim@1999']);
  r.tick();
  r.tick();
  expect(events).toEqual(['collect', 'trim@1999', 'collect', 'trim@1999']);
  moved.n = 2998; // 999 since the burst was seen: not another
  r.tick();
  expect(events).toHaveLength(4);
  moved.n = 2999;
  r.tick();
  expect(events).toHaveLength(6);
  expect(sink.where({ event: 'memory_trimmed', collected: true })).toHaveLength(3);
});

const native = loadNative();
const cannot = native?.mallocTrim ? null : nativeStatus().reason ?? 'the addon was built before mallocTrim existed; run npm run build';
requirements(cannot, strictEnvironment()).test("ok/the addon's mallocTrim runs", () => {
  const junk = Array.from({ length: 2000 }, () => Buffer.allocUnsafeSlow(64 * 1024).fill(1));
  junk.length = 0;
  expect(typeof native!.mallocTrim!()).toBe('boolean');
});
