/**
 * The help conventions, checked on every command the program registers (a command added
 * later is checked without a change here): each variable named once, boolean options are
 * flags, placeholders say what they hold (and an option whose placeholder promises a
 * duration, address or number is parsed by src/util's grammar), descriptions are written
 * the same way (a lower-case phrase, no final period).
 */
import type { Command, Option } from 'commander';
import { allCommands, kindOf, type ValueKind } from '../../../src/cli/cli-conventions.js';
import { buildProgram } from '../../../src/cli/program.js';

let program: Command;
beforeAll(async () => {
  program = await buildProgram();
});

const pathOf = (cmd: Command): string => {
  const names: string[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
};
const commands = () => allCommands(program).map((c) => [pathOf(c), c] as const);
const options = () => allCommands(program).flatMap((c) => c.options.filter((o) => !o.hidden).map((o) => [`${pathOf(c)} ${o.long ?? o.flags}`, o, c] as const));

/** Lower-case first, unless the first word is an acronym (JWKS, SHA-256) or a CamelCase name (NotBefore). */
const STYLE = /^([a-z0-9$`'"(<{]|[A-Z][A-Z0-9]+\b|[A-Z][a-z]+[A-Z])/;

/** What each value kind's placeholder may be; a placeholder listed here needs that kind. */
const PLACEHOLDERS: Record<string, ValueKind[]> = {
  'host:port': ['address'],
  duration: ['duration'],
  n: ['integer'],
  uid: ['integer'],
  gid: ['integer'],
  port: ['port'],
  file: ['file'],
  path: ['file'],
  dir: ['dir'],
};
/** Kinds that always use one placeholder. */
const EXACT: Partial<Record<ValueKind, string>> = { address: 'host:port', duration: 'duration', port: 'port' };
const GENERIC = ['value', 'string', 'val', 'arg', 'x', 'text', 'option'];
const placeholderOf = (o: Option): string | null => /[<[]([^>\]]+)[>\]]/.exec(o.flags)?.[1] ?? null;

test('the program registers every sub-command (so the checks below see them all)', () => {
  const names = program.commands.map((c) => c.name());
  expect(names).toEqual(expect.arrayContaining(['identity', 'token', 'certify', 'certs', 'proxy', 'proxy-init', 'demo', 'discovery', 'version', 'completion']));
  expect(options().length).toBeGreaterThan(100);
});

test('descriptions are lower-case phrases without a final period', () => {
  const bad: string[] = [];
  for (const [path, c] of commands()) {
    const d = c.description();
    if (!d || !STYLE.test(d) || d.endsWith('.')) bad.push(`${path}: ${JSON.stringify(d)}`);
    for (const a of c.registeredArguments) if (!a.description || !STYLE.test(a.description) || a.description.endsWith('.')) bad.push(`${path} <${a.name()}>: ${JSON.stringify(a.description)}`);
  }
  for (const [name, o] of options()) if (!o.description || !STYLE.test(o.description) || o.description.endsWith('.')) bad.push(`${name}: ${JSON.stringify(o.description)}`);
  expect(bad).toEqual([]);
});

test('--help names each environment variable once, the way commander prints it (env: X)', () => {
  const bad: string[] = [];
  for (const [path, c] of commands()) {
    const help = c.helpInformation();
    if (/\[env: /.test(help)) bad.push(`${path}: "[env: ...]" written by hand`);
    for (const o of c.options) {
      if (!o.envVar || o.hidden) continue;
      const times = help.match(new RegExp(`(?<![A-Z0-9_])${o.envVar}(?![A-Z0-9_])`, 'g'))?.length ?? 0;
      if (times !== 1) bad.push(`${path} ${o.long}: ${o.envVar} appears ${times} times`);
    }
  }
  expect(bad).toEqual([]);
});

test('boolean options are flags, never --flag <value>', () => {
  const bad: string[] = [];
  for (const [name, o] of options()) {
    const takesValue = o.required || o.optional;
    if (kindOf(o) === 'boolean' && takesValue) bad.push(`${name}: a boolean that takes a value`);
    if (takesValue && (o.defaultValue === 'true' || o.defaultValue === 'false' || o.defaultValue === true || o.defaultValue === false)) bad.push(`${name}: default ${String(o.defaultValue)}`);
    if (takesValue && o.argChoices && [...o.argChoices].sort().join() === 'false,true') bad.push(`${name}: choices true/false`);
  }
  expect(bad).toEqual([]);
});

test('placeholders say what they hold, and a duration, address or number is parsed by the grammar', () => {
  const bad: string[] = [];
  for (const [name, o] of options()) {
    const p = placeholderOf(o);
    if (p === null) continue;
    if (GENERIC.includes(p.toLowerCase())) bad.push(`${name}: generic placeholder <${p}>`);
    const kind = kindOf(o);
    const wanted = PLACEHOLDERS[p];
    if (wanted && (!kind || !wanted.includes(kind))) bad.push(`${name}: <${p}> but kind ${kind ?? 'none'}`);
    const exact = kind && EXACT[kind];
    if (exact && p !== exact) bad.push(`${name}: a ${kind} is shown as <${exact}>, not <${p}>`);
  }
  expect(bad).toEqual([]);
});

test('every command has --help and exits 2 on misuse (exitOverride everywhere)', () => {
  for (const [, c] of commands()) expect((c as unknown as { _exitCallback?: unknown })._exitCallback).toBeDefined();
});
