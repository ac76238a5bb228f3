/**
 * The README's audit record table is the v1 schema's documentation: exactly the fields the
 * proxy writes, in the order it writes them, and an example line that is a complete record.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AUDIT_FIELDS, isAuditRecord } from '../../../src/telemetry/audit-record.js';
import { ROOT } from '../../support/cli.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const section = readme.slice(readme.indexOf('### Audit records'), readme.indexOf('### The audit sink'));

test('the table lists every v1 field, in the order written', () => {
  const rows = section.split('\n').filter((l) => /^\| `[a-z_0-9]+` \|/.test(l));
  expect(rows.map((r) => /^\| `([a-z_0-9]+)`/.exec(r)![1])).toEqual([...AUDIT_FIELDS]);
});

test('the example is a v1 record with every field but the session-only one, in order', () => {
  const example = JSON.parse(/```json\n(.*)\n```/.exec(section)![1]) as Record<string, unknown>;
  expect(isAuditRecord(example)).toBe(true);
  expect(Object.keys(example)).toEqual(AUDIT_FIELDS.filter((f) => f !== 'streams'));
});
