/**
 * Golden files under test/golden/. `UPDATE_GOLDEN=1 npm test` rewrites them from the current
 * output; review the diff before committing it. Without it, the output must match byte for byte.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ROOT } from './cli.js';

export function expectGolden(name: string, actual: string): void {
  const path = join(ROOT, 'test', 'golden', name);
  if (process.env.UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  if (!existsSync(path)) throw new Error(`golden file test/golden/${name} is missing; create it with UPDATE_GOLDEN=1 and review it`);
  const expected = readFileSync(path, 'utf8');
  if (actual !== expected) {
    // toEqual on lines shows a readable diff.
    expect(actual.split('\n')).toEqual(expected.split('\n'));
  }
}
