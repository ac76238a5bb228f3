/**
 * Configuration of `lanyard proxy-init`, from flags or LANYARD_INIT_* variables (the flag
 * wins). Parsing is pure: values in, a checked config or an error naming the flag out, so a
 * table test covers every refusal and a bad manifest fails before any rule is written.
 */
import { parsePort } from '../../src/util/address.js';
import { parsePortRanges, type PortRange } from '../../src/util/port-ranges.js';
import { describeSource, parseBoolean, parseChoice, parseInteger, ValueError } from '../../src/util/value-error.js';
import { Cidr, formatIp } from '../policy/cidr.js';
import { ProxyInitError } from './init-error.js';

export type IptablesMode = 'auto' | 'nft' | 'legacy';
export type Ipv6Mode = 'auto' | 'on' | 'off';

export type { PortRange } from '../../src/util/port-ranges.js';

/** A subnet to leave alone, in the canonical text iptables-save prints (`10.0.0.0/8`, `fd00::/8`). */
export interface Subnet {
  family: 4 | 6;
  cidr: string;
}

export interface ProxyInitConfig {
  /** The proxy's inbound listener, where inbound TCP is redirected. Default 4143. */
  inboundPort: number;
  /** The proxy's outbound listener, where the app's outbound TCP is redirected. Default 4140. */
  outboundPort: number;
  /** The proxy's admin port, never redirected so kubelet probes reach it. Default 4191. */
  adminPort: number;
  /** The UID the proxy runs as; its traffic is never redirected. Default 2102. */
  proxyUid: number;
  /** Optionally also exempt this GID. Default none. */
  proxyGid: number | null;
  /** Inbound ports not redirected, besides the inbound and admin ports. Default none. */
  inboundPortsToIgnore: PortRange[];
  /** Outbound destination ports not redirected. Default none. */
  outboundPortsToIgnore: PortRange[];
  /** Outbound destinations not redirected. Default none. */
  subnetsToIgnore: Subnet[];
  /** Which iptables backend to drive. Default auto (see backend.ts). */
  iptablesMode: IptablesMode;
  /** Also write ip6tables rules. Default auto: when ip6tables can use the nat table. */
  ipv6: Ipv6Mode;
  /** Print the commands instead of running them. Default false. */
  dryRun: boolean;
  /** Remove Lanyard's jumps and chains instead of writing them. Default false. */
  cleanup: boolean;
  /** Run every command inside `ip netns exec NAME`. Default none (the current namespace). */
  netns: string | null;
}

export type ProxyInitKey = keyof ProxyInitConfig;

interface FlagFacts {
  flag: string;
  env: string;
  /** Default as text, or undefined for none. */
  def: string | undefined;
  help: string;
  /** Boolean flags take no value on the command line. */
  bool?: true;
}

/** Every option, its variable and default; the CLI and the README table come from this. */
export const PROXY_INIT_FLAGS: Record<ProxyInitKey, FlagFacts> = {
  inboundPort: { flag: '--inbound-port', env: 'LANYARD_INIT_INBOUND_PORT', def: '4143', help: "the proxy's inbound port: inbound TCP is redirected here" },
  outboundPort: { flag: '--outbound-port', env: 'LANYARD_INIT_OUTBOUND_PORT', def: '4140', help: "the proxy's outbound port: the app's outbound TCP is redirected here" },
  adminPort: { flag: '--admin-port', env: 'LANYARD_INIT_ADMIN_PORT', def: '4191', help: "the proxy's admin port, never redirected" },
  proxyUid: { flag: '--proxy-uid', env: 'LANYARD_INIT_PROXY_UID', def: '2102', help: "the proxy's UID: its own connections are never redirected" },
  proxyGid: { flag: '--proxy-gid', env: 'LANYARD_INIT_PROXY_GID', def: undefined, help: 'also never redirect connections from this GID' },
  inboundPortsToIgnore: { flag: '--inbound-ports-to-ignore', env: 'LANYARD_INIT_INBOUND_PORTS_TO_IGNORE', def: undefined, help: 'inbound ports not redirected, e.g. 25,587,6000-6010' },
  outboundPortsToIgnore: { flag: '--outbound-ports-to-ignore', env: 'LANYARD_INIT_OUTBOUND_PORTS_TO_IGNORE', def: undefined, help: 'outbound destination ports not redirected, e.g. 3306,6000-6010' },
  subnetsToIgnore: { flag: '--subnets-to-ignore', env: 'LANYARD_INIT_SUBNETS_TO_IGNORE', def: undefined, help: 'outbound destination CIDRs not redirected, e.g. 10.96.0.0/12,fd00::/8' },
  iptablesMode: { flag: '--iptables-mode', env: 'LANYARD_INIT_IPTABLES_MODE', def: 'auto', help: 'iptables backend: auto | nft | legacy' },
  ipv6: { flag: '--ipv6', env: 'LANYARD_INIT_IPV6', def: 'auto', help: 'also write ip6tables rules: auto (when ip6tables works) | on | off' },
  dryRun: { flag: '--dry-run', env: 'LANYARD_INIT_DRY_RUN', def: 'false', help: 'print the commands it would run, one per line, and change nothing', bool: true },
  cleanup: { flag: '--cleanup', env: 'LANYARD_INIT_CLEANUP', def: 'false', help: "remove Lanyard's jumps and chains (nothing else)", bool: true },
  netns: { flag: '--netns', env: 'LANYARD_INIT_NETNS', def: undefined, help: 'run inside `ip netns exec NAME`' },
};

/** Raw text values by key, as given on the command line or in the environment. */
export type RawProxyInitConfig = Partial<Record<ProxyInitKey, string>>;

function fail(name: string, expected: string, value: string): never {
  throw new ProxyInitError('ERR_INIT_FLAG', `${name}: expected ${expected}, got ${JSON.stringify(value)}`);
}

/** Runs a src/util parser; its ValueError becomes ERR_INIT_FLAG naming the option. */
function grammar<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof ValueError) throw new ProxyInitError('ERR_INIT_FLAG', `${name}: ${e.message}`);
    throw e;
  }
}

function port(text: string, name: string, whole: string): number {
  if (text.trim() === whole.trim()) return grammar(name, () => parsePort(text));
  try {
    return parsePort(text);
  } catch {
    return fail(name, `TCP ports 1-65535 such as 25,587,6000-6010 (${JSON.stringify(text)} is not one)`, whole);
  }
}

/** `25,587,6000-6010` (or `6000:6010`); empty means none; duplicates are dropped (src/util/port-ranges.ts). */
export function parsePortList(text: string, name: string): PortRange[] {
  return grammar(name, () => parsePortRanges(text));
}

/** Comma-separated IPv4/IPv6 CIDRs; a bare address is a single host. Host bits must be clear. */
export function parseSubnets(text: string, name: string): Subnet[] {
  const out: Subnet[] = [];
  for (const raw of text.split(',').map((s) => s.trim())) {
    if (!raw) continue;
    const c = Cidr.parse(raw);
    if ('error' in c) throw new ProxyInitError('ERR_INIT_FLAG', `${name}: ${c.error}`);
    // An IPv4-mapped block (::ffff:10.0.0.0/104) arrives as IPv4; iptables sees IPv4 packets.
    const subnet: Subnet = { family: c.network.family, cidr: `${formatIp(c.network)}/${c.prefix}` };
    if (!out.some((s) => s.cidr === subnet.cidr)) out.push(subnet);
  }
  return out;
}

// 4294967295 is (uid_t)-1, which the kernel reserves to mean "no id".
const id = (text: string, name: string): number => grammar(name, () => parseInteger(text, 0, 4294967294));

/** An empty value (a variable set to nothing) is off. */
const bool = (text: string, name: string): boolean => (text.trim() === '' ? false : grammar(name, () => parseBoolean(text)));

const oneOf = <T extends string>(text: string, name: string, allowed: readonly T[]): T => grammar(name, () => parseChoice(text.trim().toLowerCase(), allowed));

/** `--ipv6` also takes a boolean word: true/yes/1 are `on`, false/no/0 are `off`. */
function ipv6Mode(text: string, name: string): Ipv6Mode {
  const v = text.trim().toLowerCase();
  if (v === 'auto' || v === 'on' || v === 'off') return v;
  try {
    return parseBoolean(v) ? 'on' : 'off';
  } catch {
    return oneOf(text, name, ['auto', 'on', 'off'] as const);
  }
}

/** How errors name an option: its flag and its variable, `--inbound-port (env LANYARD_INIT_INBOUND_PORT)`. */
export const initSource = (key: ProxyInitKey): string => describeSource({ flag: PROXY_INIT_FLAGS[key].flag, env: PROXY_INIT_FLAGS[key].env });

/**
 * Checks raw values into a config. `nameOf` says how to name a key in an error; by default
 * the flag and its variable, whichever the value came from.
 */
export function parseProxyInitConfig(raw: RawProxyInitConfig, nameOf: (key: ProxyInitKey) => string = initSource): ProxyInitConfig {
  const text = (k: ProxyInitKey): string => raw[k] ?? PROXY_INIT_FLAGS[k].def ?? '';
  const cfg: ProxyInitConfig = {
    inboundPort: port(text('inboundPort').trim(), nameOf('inboundPort'), text('inboundPort')),
    outboundPort: port(text('outboundPort').trim(), nameOf('outboundPort'), text('outboundPort')),
    adminPort: port(text('adminPort').trim(), nameOf('adminPort'), text('adminPort')),
    proxyUid: id(text('proxyUid').trim(), nameOf('proxyUid')),
    proxyGid: text('proxyGid').trim() === '' ? null : id(text('proxyGid').trim(), nameOf('proxyGid')),
    inboundPortsToIgnore: parsePortList(text('inboundPortsToIgnore'), nameOf('inboundPortsToIgnore')),
    outboundPortsToIgnore: parsePortList(text('outboundPortsToIgnore'), nameOf('outboundPortsToIgnore')),
    subnetsToIgnore: parseSubnets(text('subnetsToIgnore'), nameOf('subnetsToIgnore')),
    iptablesMode: oneOf(text('iptablesMode'), nameOf('iptablesMode'), ['auto', 'nft', 'legacy'] as const),
    ipv6: ipv6Mode(text('ipv6'), nameOf('ipv6')),
    dryRun: bool(text('dryRun'), nameOf('dryRun')),
    cleanup: bool(text('cleanup'), nameOf('cleanup')),
    netns: text('netns').trim() === '' ? null : text('netns').trim(),
  };
  // `ip netns` names are file names under /run/netns.
  if (cfg.netns !== null && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,254}$/.test(cfg.netns)) fail(nameOf('netns'), 'a network namespace name (letters, digits, _ . -)', cfg.netns);
  // Two listeners on one port cannot both be the redirect target; the rules would send
  // inbound traffic into the outbound proxy (or the admin server) and nothing would work.
  const ports: [ProxyInitKey, number][] = [['inboundPort', cfg.inboundPort], ['outboundPort', cfg.outboundPort], ['adminPort', cfg.adminPort]];
  for (let i = 0; i < ports.length; i++) {
    for (let j = i + 1; j < ports.length; j++) {
      if (ports[i][1] === ports[j][1]) {
        throw new ProxyInitError('ERR_INIT_FLAG', `${nameOf(ports[j][0])}: must differ from ${nameOf(ports[i][0])} (both ${ports[i][1]})`);
      }
    }
  }
  return cfg;
}
