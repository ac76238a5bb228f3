/**
 * DESIGN.md §1's boundaries, checked on the source: src/pki and src/util import nothing of
 * ours (src/util only node's built-ins), proxy/ never imports src/identity, src/cli or
 * certs/, and nothing but src/cli imports src/cli.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { ROOT } from '../../support/cli.js';


function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(ROOT, dir))) {
    const p = join(dir, name);
    if (statSync(join(ROOT, p)).isDirectory()) {
      if (name !== 'node_modules' && name !== 'build') out.push(...sources(p));
    } else if (name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every import/export specifier of a file, resolved to a repo path when relative. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(/(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g)].map(
    (m) => m[1] ?? m[2] ?? m[3],
  );
  return specs.map((s) => (s.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), s)) : s));
}

const ours = (spec: string) => /^(src|proxy|certs|test)\//.test(spec);

const RULES: Array<[string, string, (spec: string) => boolean]> = [
  ['src/pki imports nothing of ours', 'src/pki', (s) => ours(s) && !s.startsWith('src/pki/')],
  ['src/util imports only node built-ins and itself', 'src/util', (s) => !(s.startsWith('node:') || s.startsWith('src/util/'))],
  ['proxy/ never imports src/identity, src/cli, src/k8s or certs/', 'proxy', (s) => /^(src\/identity|src\/cli|src\/k8s|certs)\//.test(s)],
  ['src/ outside src/cli never imports src/cli', 'src', (s) => s.startsWith('src/cli/')],
];

describe('import boundaries', () => {
  test.each(RULES)('%s', (_name, dir, forbidden) => {
    const files = sources(dir).filter((f) => !(dir === 'src' && f.startsWith('src/cli/')));
    expect(files.length).toBeGreaterThan(0);
    const broken = files.flatMap((f) => importsOf(f).filter(forbidden).map((s) => `${f} -> ${s}`));
    expect(broken).toEqual([]);
  });
});
