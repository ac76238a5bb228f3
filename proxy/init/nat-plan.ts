/**
 * Reading the nat table as `iptables-save -t nat` prints it, and planning the iptables
 * commands that take it to Lanyard's rule set (or remove Lanyard's part). Pure, so the
 * idempotency and cleanup rules are table-tested without root.
 */
import { ProxyInitError } from './init-error.js';
import { HOOKS, OWN_CHAINS, type NatRuleSet, type RuleSpec } from './rules.js';

export interface NatState {
  /** Every chain in the nat table, built-in and user-defined. */
  chains: Set<string>;
  /** Every rule, in order, as words: `['-A', chain, ...]`. */
  rules: string[][];
}

/** A fresh namespace's nat table, assumed when the real one cannot be read (a dry run without privileges). */
export function emptyNatState(): NatState {
  return { chains: new Set(['PREROUTING', 'INPUT', 'OUTPUT', 'POSTROUTING']), rules: [] };
}

/** iptables arguments after the binary, e.g. `['-t', 'nat', '-N', 'LANYARD_OUTPUT']`. */
export type IptablesArgs = string[];

export type PlanStatus = 'install' | 'up-to-date' | 'rebuild' | 'remove' | 'absent';

export interface NatPlan {
  status: PlanStatus;
  commands: IptablesArgs[];
}

/** Splits one iptables-save line into words; double quotes group, backslash escapes. */
export function splitSaveLine(line: string): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (c === '"') {
      quoted = !quoted;
      inWord = true;
    } else if (!quoted && /\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** Parses the `*nat` section of iptables-save output; other tables and comments are ignored. */
export function parseNatSave(text: string): NatState {
  const state: NatState = { chains: new Set(), rules: [] };
  let inNat = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) inNat = line === '*nat';
    else if (!inNat || line.startsWith('#')) continue;
    else if (line === 'COMMIT') inNat = false;
    else if (line.startsWith(':')) state.chains.add(line.slice(1).split(/\s+/)[0]);
    else if (line.startsWith('-A ')) state.rules.push(splitSaveLine(line));
  }
  return state;
}

const isOwn = (chain: string): boolean => OWN_CHAINS.includes(chain);

/** The chain a rule jumps or goes to, if any. */
function targetOf(rule: readonly string[]): string | undefined {
  for (let i = 2; i < rule.length - 1; i++) if (rule[i] === '-j' || rule[i] === '-g') return rule[i + 1];
  return undefined;
}

const sameRule = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((w, i) => w === b[i]);

/** Rules outside Lanyard's chains that jump into them. */
function jumpsIntoOwn(state: NatState): string[][] {
  return state.rules.filter((r) => !isOwn(r[1]) && isOwn(targetOf(r) ?? ''));
}

/**
 * Commands that remove Lanyard's jumps and chains and nothing else: the jumps first (so no
 * packet enters a chain being emptied), then flush every chain before deleting any, since
 * LANYARD_PREROUTING refers to LANYARD_INBOUND_REDIRECT. A jump into a Lanyard chain from a
 * chain other than PREROUTING/OUTPUT was not written by Lanyard; it is refused rather than
 * deleted, before any change.
 */
export function planCleanup(state: NatState): NatPlan {
  const jumps = jumpsIntoOwn(state);
  const foreign = jumps.find((r) => r[1] !== HOOKS.prerouting && r[1] !== HOOKS.output);
  if (foreign) {
    throw new ProxyInitError(
      'ERR_INIT_FOREIGN_REFERENCE',
      `the rule \`${foreign.join(' ')}\` jumps into ${targetOf(foreign)} but was not written by lanyard proxy-init; remove it, then run again`,
    );
  }
  const present = OWN_CHAINS.filter((c) => state.chains.has(c));
  const commands: IptablesArgs[] = [
    ...jumps.map((r) => ['-t', 'nat', '-D', ...r.slice(1)]),
    ...present.map((c) => ['-t', 'nat', '-F', c]),
    ...present.map((c) => ['-t', 'nat', '-X', c]),
  ];
  return { status: commands.length ? 'remove' : 'absent', commands };
}

/** The commands that write a rule set into a table that holds none of it. */
export function installCommands(set: NatRuleSet): IptablesArgs[] {
  return [
    ...set.chains.map((c) => ['-t', 'nat', '-N', c]),
    ...set.rules.map((r) => ['-t', 'nat', ...r]),
    ...set.jumps.map((r) => ['-t', 'nat', ...r]),
  ];
}

/** True when the table holds exactly the rule set: its chains, their rules in order, one jump each. */
export function isInstalled(state: NatState, set: NatRuleSet): boolean {
  if (!set.chains.every((c) => state.chains.has(c))) return false;
  for (const chain of set.chains) {
    const have = state.rules.filter((r) => r[1] === chain);
    const want = set.rules.filter((r) => r[1] === chain);
    if (have.length !== want.length || !have.every((r, i) => sameRule(r, want[i]))) return false;
  }
  const jumps = jumpsIntoOwn(state);
  return jumps.length === set.jumps.length && set.jumps.every((want) => jumps.some((r) => sameRule(r, want as RuleSpec)));
}

/**
 * What it takes to reach the rule set. Already there: nothing, so a second run changes
 * nothing. Partly there or different (an older config, a run cut short): remove Lanyard's
 * part and write it again, which yields the same table as a first run.
 */
export function planInstall(state: NatState, set: NatRuleSet): NatPlan {
  if (isInstalled(state, set)) return { status: 'up-to-date', commands: [] };
  const cleanup = planCleanup(state);
  return { status: cleanup.commands.length ? 'rebuild' : 'install', commands: [...cleanup.commands, ...installCommands(set)] };
}
