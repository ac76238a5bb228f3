/**
 * YoungCollector: asks for one young-generation collection per `everyBytes` moved (after the
 * current reads, and never two at once), and does nothing when `gc` is not exposed.
 */
import { YoungCollector } from '../../../proxy/io/young-collector.js';

const tick = () => new Promise(setImmediate);

test('ok/one minor collection per threshold, requested after the current reads', async () => {
  const calls: unknown[] = [];
  const c = new YoungCollector((o) => calls.push(o), 1000);
  c.note(999);
  await tick();
  expect(calls).toEqual([]);
  c.note(1); // 1000: the threshold
  expect(calls).toEqual([]); // not inside the read that crossed it
  c.note(500); // already scheduled: not a second one, but these bytes count towards the next
  await tick();
  expect(calls).toEqual([{ type: 'minor', execution: 'async' }]);
  c.note(499);
  await tick();
  expect(calls).toHaveLength(1);
  c.note(1);
  await tick();
  expect(calls).toHaveLength(2);
});

test('ok/the bytes moved are counted with or without gc, for MemoryRelief', () => {
  const without = new YoungCollector(null, 1000);
  const withGc = new YoungCollector(() => undefined, 1000);
  for (const c of [without, withGc]) {
    c.note(700);
    c.note(700);
    expect(c.movedTotal()).toBe(1400);
  }
});

test('ok/the collection really runs in a process started with --expose-gc', async () => {
  const { execFileSync } = await import('node:child_process');
  // V8 accepts {type: "minor", execution: "async"} from the exposed gc() on this Node.
  const out = execFileSync(process.execPath, ['--expose-gc', '-e', 'gc({type: "minor", execution: "async"}); setImmediate(() => console.log(typeof gc))'], { encoding: 'utf8' });
  expect(out.trim()).toBe('function');
});
