/**
 * `lanyard completion bash|zsh` prints a script generated from the program's own commands
 * and options. bash accepts the bash script (`bash -n`), and sourcing it, the completion
 * function completes sub-command names, options and option values the way bash calls it
 * (COMP_WORDS/COMP_CWORD in, COMPREPLY out). zsh accepts the zsh script and offers the same
 * (its completion builtins replaced by recorders: they only run inside a completion widget).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lanyard } from '../support/cli.js';
import { requires } from '../support/requires.js';

let dir: string;
let bashScript: string;
let zshScript: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'lanyard-completion-'));
  const bash = await lanyard(['completion', 'bash']);
  const zsh = await lanyard(['completion', 'zsh']);
  expect([bash.code, bash.stderr, zsh.code, zsh.stderr]).toEqual([0, '', 0, '']);
  bashScript = join(dir, 'lanyard.bash');
  writeFileSync(bashScript, bash.stdout);
  zshScript = zsh.stdout;
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What the completion offers for the words typed so far (the last one is being completed). */
function complete(...words: string[]): string[] {
  const array = words.map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = `source '${bashScript}'; COMP_WORDS=(lanyard ${array}); COMP_CWORD=${words.length}; _lanyard; printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = spawnSync('bash', ['-c', script], { cwd: dir, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

test('bash accepts the script', () => {
  const r = spawnSync('bash', ['-n', bashScript], { encoding: 'utf8' });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
});

test('sourcing it registers the completion for lanyard', () => {
  const r = spawnSync('bash', ['-c', `source '${bashScript}'; complete -p lanyard`], { encoding: 'utf8' });
  expect(r.stdout.trim()).toBe('complete -o default -F _lanyard lanyard');
});

test.each<[string[], string[]]>([
  [['ce'], ['certify', 'certs']],
  [['proxy-'], ['proxy-init']],
  [[''], ['identity', 'token', 'certify', 'certs', 'check', 'proxy', 'proxy-init', 'demo', 'discovery', 'edges', 'tap', 'dashboard', 'install', 'inject', 'injector', 'version', 'completion']],
  [['certs', ''], ['create-anchor', 'create-issuer', 'bundle', 'inspect', 'rotate']],
  [['certs', 'rotate', ''], ['anchor', 'issuer']],
  [['certs', 'bundle', 'list', ''], []],
  [['certs', 'bundle', 'l'], ['list']],
  [['token', 'm'], ['mint']],
])('completes sub-command names: %j', (words, want) => {
  expect(complete(...words)).toEqual(want);
});

test.each<[string[], string[]]>([
  [['identity', '--val'], ['--validator']],
  [['proxy', '--no-m'], ['--no-mux']],
  [['certify', '--tr'], ['--trust-anchors', '--trust-domain']],
  [['version', '-'], ['-o', '--output', '-h', '--help']],
])('completes options: %j', (words, want) => {
  expect(complete(...words)).toEqual(want);
});

test.each<[string[], string[]]>([
  [['identity', '--validator', ''], ['dev', 'jwks', 'kubernetes']],
  [['identity', '--log-level', 'de'], ['debug']],
  [['certs', 'inspect', '-o', ''], ['text', 'json']],
  [['completion', 'ba'], []],
])('completes choices of options: %j', (words, want) => {
  expect(complete(...words)).toEqual(want);
});

test('a <file> value completes paths; after it, options complete again', () => {
  writeFileSync(join(dir, 'bundle-one.pem'), '');
  expect(complete('certs', 'bundle', 'list', '--bundle', 'bundle-')).toEqual(['bundle-one.pem']);
  expect(complete('certs', 'bundle', 'list', '--bundle', 'bundle-one.pem', '-')).toEqual(['--bundle', '-o', '--output', '-h', '--help']);
  // A flag takes no value: the word after it is not skipped.
  expect(complete('certify', '--force', '--ou')).toEqual(['--out-dir', '--output']);
});

const zshTest = requires('zsh').test;

/** What the zsh function offers for the words typed so far. */
function completeZsh(...words: string[]): string[] {
  writeFileSync(join(dir, '_lanyard'), zshScript);
  const quoted = ['lanyard', ...words].map((w) => `'${w.replace(/'/g, `'\\''`)}'`).join(' ');
  const script = [
    'compdef() { :; }',
    `source '${join(dir, '_lanyard')}'`,
    'compadd() { while [[ $1 == -* && $1 != -- ]]; do shift; done; [[ $1 == -- ]] && shift; print -l -- "$@"; }',
    '_describe() { local item; for item in "${(@P)2}"; do print -- "${item%%:*}"; done; }',
    '_files() { print -- "<files>"; }',
    `words=(${quoted}); CURRENT=${words.length + 1}; _lanyard`,
  ].join('\n');
  const r = spawnSync('zsh', ['-f', '-c', script], { cwd: dir, encoding: 'utf8' });
  expect(r.status).toBe(0);
  return r.stdout.split('\n').filter(Boolean);
}

zshTest('zsh accepts the script and offers the same completions', () => {
  const r = spawnSync('zsh', ['-n', '-c', zshScript], { encoding: 'utf8' });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(completeZsh('certs', '')).toEqual(['create-anchor', 'create-issuer', 'bundle', 'inspect', 'rotate']);
  expect(completeZsh('identity', '--validator', '')).toEqual(['dev', 'jwks', 'kubernetes']);
  expect(completeZsh('certs', 'bundle', 'list', '--bundle', '')).toEqual(['<files>']);
  expect(completeZsh('proxy', '--no-')).toContain('--no-mux');
});

test('the zsh script is generated from the same commands', () => {
  expect(zshScript.split('\n')[0]).toBe('#compdef lanyard');
  for (const name of ['identity', 'certify', 'proxy-init', 'completion', 'create-anchor']) expect(zshScript).toContain(`'${name}:`);
  expect(zshScript).toContain("'identity|--validator') echo 'words dev jwks kubernetes'");
  expect(zshScript).toMatch(/compdef _lanyard lanyard/);
});
