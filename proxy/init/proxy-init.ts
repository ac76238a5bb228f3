/**
 * `lanyard proxy-init`: writes (or removes) the pod's nat rules, like linkerd-init. The
 * steps are a straight line: privileges → backend → address families → read each nat
 * table → plan → print or run. Reading before writing is what makes a second run a no-op
 * and a cleanup exact; writing the jumps last is what makes a half-finished run harmless.
 */
import { readFileSync } from 'node:fs';
import { BACKENDS, countRules, missingBinaryError, selectBackend, type BackendProbe, type BackendProbes, type IptablesBackend } from './backend.js';
import { effectiveCapabilities, missingCapabilities, notPermittedMessage, type CapabilityName } from './capabilities.js';
import type { ProxyInitConfig } from './init-config.js';
import { ProxyInitError } from './init-error.js';
import { IptablesExecutor } from './iptables.js';
import { emptyNatState, parseNatSave, planCleanup, planInstall, type IptablesArgs, type NatPlan, type PlanStatus } from './nat-plan.js';
import { buildNatRules, OWN_CHAINS, type IpFamily } from './rules.js';

export interface ProxyInitDeps {
  /** Runs the commands. Default: a real executor for `cfg.netns`. */
  executor?: IptablesExecutor;
  /** Receives each command line, as it runs (or instead of running it, in a dry run). */
  print: (line: string) => void;
  /** Receives notes and the summary (stderr in the CLI). */
  note: (line: string) => void;
  /** /proc/self/status text, or null off Linux. Default: read it. */
  procStatus?: () => string | null;
}

export interface FamilyResult {
  family: IpFamily;
  status: PlanStatus;
  /** The printed command lines. */
  commands: string[];
}

export interface ProxyInitReport {
  backend: IptablesBackend;
  dryRun: boolean;
  results: FamilyResult[];
}

const readProcStatus = (): string | null => {
  try {
    return readFileSync('/proc/self/status', 'utf8');
  } catch {
    return null;
  }
};

const saveArgs = ['-t', 'nat'];
const tools = (b: IptablesBackend, f: IpFamily) => (f === 4 ? { bin: b.iptables, save: b.iptablesSave } : { bin: b.ip6tables, save: b.ip6tablesSave });

async function probe(ex: IptablesExecutor, b: IptablesBackend, canRead: boolean): Promise<BackendProbe> {
  const installed = ex.installed(b.iptables) && ex.installed(b.iptablesSave);
  const out = installed && canRead ? await ex.tryRun(b.iptablesSave, []) : null;
  const chains = out === null ? new Set<string>() : parseNatSave(out).chains;
  return { installed, readable: out !== null, rules: out === null ? 0 : countRules(out), hasLanyard: OWN_CHAINS.some((c) => chains.has(c)) };
}

async function probeBackends(ex: IptablesExecutor, canRead: boolean): Promise<BackendProbes> {
  return {
    nft: await probe(ex, BACKENDS.nft, canRead),
    legacy: await probe(ex, BACKENDS.legacy, canRead),
    defaultInstalled: ex.installed(BACKENDS.default.iptables) && ex.installed(BACKENDS.default.iptablesSave),
  };
}

/** Capabilities this run needs that the process lacks; an empty list when it cannot tell. */
function missingFor(status: string | null, needed: CapabilityName[]): CapabilityName[] {
  const eff = status === null ? null : effectiveCapabilities(status);
  return eff === null ? [] : missingCapabilities(eff, needed);
}

/** The nat table's current text per family, or null where it is not to be touched. */
async function readTables(cfg: ProxyInitConfig, ex: IptablesExecutor, b: IptablesBackend, canRead: boolean, note: (l: string) => void): Promise<Map<IpFamily, string | null>> {
  const tables = new Map<IpFamily, string | null>();
  tables.set(4, canRead ? (await ex.run(b.iptablesSave, saveArgs)).stdout : null);
  if (cfg.ipv6 === 'off') return tables;
  const installed = ex.installed(b.ip6tables) && ex.installed(b.ip6tablesSave);
  // ip6tables "works" when its save tool can read a nat table: the kernel may lack IPv6
  // (ipv6.disable=1) or the ip6 nat table, and auto mode then writes IPv4 rules only.
  const out = installed && canRead ? await ex.tryRun(b.ip6tablesSave, saveArgs) : null;
  const works = out !== null && /^\*nat$/m.test(out);
  if (works || (installed && !canRead)) {
    tables.set(6, out);
  } else if (cfg.ipv6 === 'on') {
    const why = installed ? `${b.ip6tablesSave} -t nat failed` : `${b.ip6tables} not found on PATH (package \`iptables\`)`;
    throw new ProxyInitError('ERR_INIT_IPV6_UNAVAILABLE', `--ipv6 on: ip6tables cannot write nat rules here: ${why}`);
  } else {
    note(`proxy-init: IPv6 rules skipped: ${installed ? `${b.ip6tablesSave} -t nat does not work here` : `${b.ip6tables} not installed`}`);
  }
  return tables;
}

function planFor(cfg: ProxyInitConfig, family: IpFamily, saved: string | null): NatPlan {
  const state = saved === null ? emptyNatState() : parseNatSave(saved);
  return cfg.cleanup ? planCleanup(state) : planInstall(state, buildNatRules(cfg, family));
}

/** After a failed install, takes Lanyard's part back out so the pod is not left half redirected. */
async function rollBack(ex: IptablesExecutor, b: IptablesBackend, families: IpFamily[], note: (l: string) => void): Promise<void> {
  for (const family of families) {
    const { bin, save } = tools(b, family);
    try {
      const plan = planCleanup(parseNatSave((await ex.run(save, saveArgs)).stdout));
      for (const args of plan.commands) await ex.run(bin, args);
    } catch (e) {
      note(`proxy-init: could not roll back the IPv${family} rules: ${(e as Error).message}`);
    }
  }
}

/** How each outcome reads in the summary line: [done, dry run]. */
const STATUS_TEXT: Record<PlanStatus, [string, string]> = {
  install: ['installed', 'would be installed'],
  'up-to-date': ['already in place, nothing changed', 'already in place, nothing to do'],
  rebuild: ['differed from this configuration, rebuilt', 'differs from this configuration, would be rebuilt'],
  remove: ['removed', 'would be removed'],
  absent: ['nothing to remove', 'nothing to remove'],
};

export async function runProxyInit(cfg: ProxyInitConfig, deps: ProxyInitDeps): Promise<ProxyInitReport> {
  const ex = deps.executor ?? new IptablesExecutor({ netns: cfg.netns });
  if (cfg.netns !== null && !ex.installed('ip')) throw missingBinaryError('ip');
  const status = (deps.procStatus ?? readProcStatus)();
  const needed: CapabilityName[] = cfg.netns === null ? ['CAP_NET_ADMIN'] : ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN'];
  const missing = missingFor(status, needed);
  if (missing.length && !cfg.dryRun) throw new ProxyInitError('ERR_INIT_NOT_PERMITTED', notPermittedMessage(missing));
  // A dry run is also for reading the rules on a laptop: without privileges it cannot see
  // the current table, so it shows what a first run in a fresh pod would do.
  const canRead = missing.length === 0;
  if (!canRead) deps.note(`proxy-init: dry run without ${missing.join(', ')}: cannot read the current rules, showing a first run in a fresh namespace`);

  const backend = selectBackend(cfg.iptablesMode, await probeBackends(ex, canRead));
  const raw = backend.name === 'legacy' ? missingFor(status, ['CAP_NET_RAW']) : [];
  if (raw.length && !cfg.dryRun) throw new ProxyInitError('ERR_INIT_NOT_PERMITTED', `${backend.iptables}: ${notPermittedMessage(raw)}`);

  const tables = await readTables(cfg, ex, backend, canRead, deps.note);
  const families = [...tables.keys()];
  const plans = families.map((family) => ({ family, plan: planFor(cfg, family, tables.get(family) ?? null) }));
  const results: FamilyResult[] = plans.map(({ family, plan }) => ({
    family,
    status: plan.status,
    commands: plan.commands.map((args) => ex.format(tools(backend, family).bin, args)),
  }));

  for (const { family, plan } of plans) {
    for (const args of plan.commands) await execute(ex, tools(backend, family).bin, args, cfg, deps, async () => rollBack(ex, backend, families, deps.note));
  }
  const summary = results.map((r) => `IPv${r.family}: ${STATUS_TEXT[r.status][cfg.dryRun ? 1 : 0]}`).join('; ');
  deps.note(`proxy-init: ${backend.iptables}${cfg.netns ? ` in netns ${cfg.netns}` : ''}: ${summary}`);
  return { backend, dryRun: cfg.dryRun, results };
}

async function execute(ex: IptablesExecutor, bin: string, args: IptablesArgs, cfg: ProxyInitConfig, deps: ProxyInitDeps, rollBackAll: () => Promise<void>): Promise<void> {
  deps.print(ex.format(bin, args));
  if (cfg.dryRun) return;
  try {
    await ex.run(bin, args);
  } catch (e) {
    if (!cfg.cleanup) {
      await rollBackAll();
      if (e instanceof Error) e.message += ' (the rules written so far were removed again)';
    }
    throw e;
  }
}
