/**
 * Which iptables to drive. Two kernels' worth of iptables ship side by side: `iptables-nft`
 * (rules in nf_tables) and `iptables-legacy` (the old x_tables). Both sets of hooks run, so
 * rules split across them are evaluated in an order no one chose; proxy-init therefore
 * follows whichever backend is already in use in the namespace, as Kubernetes'
 * iptables-wrapper does. The choice is pure, from probes the executor gathers.
 */
import { ProxyInitError } from './init-error.js';
import type { IptablesMode } from './init-config.js';

export type BackendName = 'nft' | 'legacy' | 'default';

export interface IptablesBackend {
  /** `default` is a plain `iptables` with no -nft/-legacy variants installed beside it. */
  name: BackendName;
  iptables: string;
  iptablesSave: string;
  ip6tables: string;
  ip6tablesSave: string;
}

export const BACKENDS: Record<BackendName, IptablesBackend> = {
  nft: { name: 'nft', iptables: 'iptables-nft', iptablesSave: 'iptables-nft-save', ip6tables: 'ip6tables-nft', ip6tablesSave: 'ip6tables-nft-save' },
  legacy: { name: 'legacy', iptables: 'iptables-legacy', iptablesSave: 'iptables-legacy-save', ip6tables: 'ip6tables-legacy', ip6tablesSave: 'ip6tables-legacy-save' },
  default: { name: 'default', iptables: 'iptables', iptablesSave: 'iptables-save', ip6tables: 'ip6tables', ip6tablesSave: 'ip6tables-save' },
};

/** What the executor found out about one backend in the target namespace. */
export interface BackendProbe {
  /** Its iptables and iptables-save binaries are on PATH. */
  installed: boolean;
  /** Its save tool read the tables (false when it failed, e.g. no kernel support, or was not run). */
  readable: boolean;
  /** Rules it holds, all tables. */
  rules: number;
  /** It holds at least one of Lanyard's chains. */
  hasLanyard: boolean;
}

export interface BackendProbes {
  nft: BackendProbe;
  legacy: BackendProbe;
  /** Only whether plain `iptables` + `iptables-save` are installed. */
  defaultInstalled: boolean;
}

/** The package to install for a missing binary, in the error that names it. */
export function missingBinaryError(binary: string): ProxyInitError {
  const pkg = binary === 'ip' ? 'iproute2' : 'iptables';
  return new ProxyInitError('ERR_INIT_MISSING_BINARY', `${binary} not found on PATH: install the package \`${pkg}\` (e.g. apt-get install ${pkg}, apk add ${pkg})`);
}

function required(name: 'nft' | 'legacy', probe: BackendProbe): IptablesBackend {
  if (!probe.installed) throw missingBinaryError(BACKENDS[name].iptables);
  return BACKENDS[name];
}

/**
 * `nft` and `legacy` insist on their binaries. `auto`, among the installed variants:
 * 1. the one holding Lanyard's chains, so re-runs and `--cleanup` find what an earlier run wrote;
 * 2. the one holding more rules, so Lanyard's rules sit beside the pod's other rules;
 * 3. nft if it can read the tables (the default of current distributions), else legacy
 *    (old kernels without nf_tables);
 * 4. a plain `iptables` when neither variant is installed.
 */
export function selectBackend(mode: IptablesMode, probes: BackendProbes): IptablesBackend {
  if (mode === 'nft' || mode === 'legacy') return required(mode, probes[mode]);
  const { nft, legacy } = probes;
  if (nft.installed && legacy.installed) {
    if (nft.hasLanyard !== legacy.hasLanyard) return nft.hasLanyard ? BACKENDS.nft : BACKENDS.legacy;
    if (nft.rules !== legacy.rules) return nft.rules > legacy.rules ? BACKENDS.nft : BACKENDS.legacy;
    return nft.readable || !legacy.readable ? BACKENDS.nft : BACKENDS.legacy;
  }
  if (nft.installed) return BACKENDS.nft;
  if (legacy.installed) return BACKENDS.legacy;
  if (probes.defaultInstalled) return BACKENDS.default;
  throw missingBinaryError('iptables');
}

/** Counts `-A` lines in iptables-save output (every table). */
export function countRules(saveOutput: string): number {
  let n = 0;
  for (const line of saveOutput.split('\n')) if (line.startsWith('-A ')) n++;
  return n;
}
