/**
 * The README's proxy table is the operator's reference: every variable the proxy reads
 * must be in it, with its flag and default.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROXY_ENV } from '../../../proxy/config.js';
import { flagFor } from '../../../src/cli/proxy.js';
import { ROOT } from '../../support/cli.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

test.each(Object.entries(PROXY_ENV))('%s is documented with its flag and default', (name, [def]) => {
  const row = readme.split('\n').find((l) => l.startsWith(`| \`${name}\` |`));
  expect(row).toBeDefined();
  expect(row).toContain(`\`${flagFor(name)}\``);
  expect(row).toContain(def === undefined ? '| – |' : `\`${def}\``);
});
