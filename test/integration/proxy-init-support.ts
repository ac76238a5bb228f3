/**
 * Network namespaces for the proxy-init scenarios. Each scenario makes its own namespaces
 * (prefix `lanyard-t-`), runs the built CLI in them and reads the nat table back. A scenario
 * declares what it needs with `needsNetns(...)` (test/support/requires.ts): without root,
 * network namespaces, `ip` or iptables it is skipped with the reason printed, or fails under
 * CI=true. Namespaces are deleted even when a scenario fails.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { requires, type Requirement, type Requirements } from '../support/requires.js';

export const NS_PREFIX = 'lanyard-t-';

/** Runs a command and returns its stdout; throws with stderr on failure. */
export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: 20_000 }).toString();
}

export const inNs = (ns: string, cmd: string, ...args: string[]): string => sh('ip', ['netns', 'exec', ns, cmd, ...args]);

/** What every scenario needs, plus `tools`. */
export function needsNetns(...tools: Requirement[]): Requirements {
  return requires('root', 'netns', 'ip', 'iptables', 'iptables-save', ...tools);
}

/** Namespaces made by one scenario, all deleted by `deleteAll`. */
export class NetnsSet {
  readonly names: string[] = [];

  /** Creates `lanyard-t-<tag>-<random>` with lo up. */
  create(tag: string): string {
    const name = `${NS_PREFIX}${tag}-${process.pid}-${randomBytes(3).toString('hex')}`;
    sh('ip', ['netns', 'add', name]);
    this.names.push(name);
    inNs(name, 'ip', 'link', 'set', 'lo', 'up');
    return name;
  }

  deleteAll(): void {
    for (const name of this.names.splice(0)) spawnSync('ip', ['netns', 'delete', name]);
  }
}

/** Creates one namespace per tag (the scenario's requirements were checked by needsNetns). */
export function setUp(set: NetnsSet, tags: string[]): string[] {
  return tags.map((tag) => set.create(tag));
}

/** The save tool of the backend proxy-init reported on stderr (`proxy-init: iptables-nft ...`). */
export function saveToolFrom(stderr: string, family: 4 | 6 = 4): string {
  const m = /^proxy-init: (iptables(?:-nft|-legacy)?)\b/m.exec(stderr);
  if (!m) throw new Error(`no backend in proxy-init's output:\n${stderr}`);
  const save = `${m[1]}-save`;
  return family === 6 ? save.replace(/^iptables/, 'ip6tables') : save;
}

/** The nat table without the volatile parts: comment lines (timestamps) and packet counters. */
export function natTable(ns: string, saveTool = 'iptables-save'): string {
  return inNs(ns, saveTool, '-t', 'nat')
    .split('\n')
    .filter((l) => !l.startsWith('#'))
    .map((l) => l.replace(/\[\d+:\d+\]/, '[0:0]'))
    .join('\n');
}

/** The `-A` lines touching Lanyard's chains. */
export const lanyardRules = (table: string): string[] => table.split('\n').filter((l) => l.startsWith('-A ') && l.includes('LANYARD_'));

/** Whether ip6tables of this save tool's backend can use the nat table in `ns`. */
export function ip6NatWorks(ns: string, ip6SaveTool: string): boolean {
  try {
    return /^\*nat$/m.test(inNs(ns, ip6SaveTool, '-t', 'nat'));
  } catch {
    return false;
  }
}

/**
 * Joins two namespaces with a veth pair named eth0 on both sides (names are per namespace,
 * so nothing can clash with the host) and addresses them `<prefix>.2` (a) and `<prefix>.1` (b).
 */
export function link(a: string, b: string, prefix = '10.251.0'): { a: string; b: string } {
  sh('ip', ['-n', a, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
  inNs(a, 'ip', 'addr', 'add', `${prefix}.2/24`, 'dev', 'eth0');
  inNs(b, 'ip', 'addr', 'add', `${prefix}.1/24`, 'dev', 'eth0');
  inNs(a, 'ip', 'link', 'set', 'eth0', 'up');
  inNs(b, 'ip', 'link', 'set', 'eth0', 'up');
  return { a: `${prefix}.2`, b: `${prefix}.1` };
}

/** HTTP servers in a namespace that answer with their label, so a client sees where it landed. */
const SERVERS = `
const http = require('node:http');
const specs = JSON.parse(process.argv[1]);
let up = 0;
for (const [host, port, label] of specs) {
  http.createServer((req, res) => res.end(label)).listen(port, host, () => { if (++up === specs.length) console.log('ready'); });
}
`;

export interface Servers {
  stop(): void;
}

/** Starts labelled listeners `[host, port, label]` in `ns`; resolves once all listen. */
export function startServers(ns: string, specs: [string, number, string][]): Promise<Servers> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', SERVERS, JSON.stringify(specs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  return new Promise((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => (stop(), reject(new Error(`servers in ${ns} did not start: ${err}`))), 10_000);
    child.stderr!.on('data', (d: Buffer) => (err += d));
    child.stdout!.on('data', (d: Buffer) => {
      if (String(d).includes('ready')) {
        clearTimeout(timer);
        resolve({ stop });
      }
    });
    child.once('exit', (code) => (clearTimeout(timer), reject(new Error(`servers in ${ns} exited with ${code}: ${err}`))));
  });
}

/**
 * Fetches `url` from inside `ns`, as `uid` when given (setpriv drops to it with no
 * supplementary groups); returns the body, or `failed: ...` when the connection fails.
 */
export function fetchIn(ns: string, url: string, uid?: number): string {
  const curl = ['curl', '-sS', '--max-time', '5', url];
  const argv = uid === undefined ? curl : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', ...curl];
  const r = spawnSync('ip', ['netns', 'exec', ns, ...argv], { timeout: 15_000 });
  return r.status === 0 ? r.stdout.toString() : `failed: ${r.stderr.toString().trim()}`;
}
