/**
 * The pod's nat rules, as data. Pure: a config in, the chains and rules out, each rule in
 * the exact words `iptables-save -t nat` prints for it, so the same list serves to write the
 * rules and to recognise them on a second run.
 *
 *   PREROUTING  -> LANYARD_PREROUTING  -> (not an ignored port) -> LANYARD_INBOUND_REDIRECT  -> REDIRECT :4143
 *   OUTPUT      -> LANYARD_OUTPUT      -> (not the proxy, not lo, not ignored) -> LANYARD_OUTBOUND_REDIRECT -> REDIRECT :4140
 */
import type { PortRange, ProxyInitConfig } from './init-config.js';

export type IpFamily = 4 | 6;

/** Lanyard's chains in the nat table; nothing else in the table is ever touched. */
export const CHAINS = {
  /** Jumped to from PREROUTING: decides which inbound connections go to the proxy. */
  prerouting: 'LANYARD_PREROUTING',
  /** The inbound REDIRECT to the proxy's inbound port. */
  inboundRedirect: 'LANYARD_INBOUND_REDIRECT',
  /** Jumped to from OUTPUT: decides which of the pod's own connections go to the proxy. */
  output: 'LANYARD_OUTPUT',
  /** The outbound REDIRECT to the proxy's outbound port. */
  outboundRedirect: 'LANYARD_OUTBOUND_REDIRECT',
} as const;

/** In creation order: a chain exists before any rule jumps to it. */
export const OWN_CHAINS: readonly string[] = [CHAINS.inboundRedirect, CHAINS.prerouting, CHAINS.outboundRedirect, CHAINS.output];

/** The built-in chains Lanyard jumps from. */
export const HOOKS = { prerouting: 'PREROUTING', output: 'OUTPUT' } as const;

/** One rule in iptables-save words: `['-A', chain, ...matches, '-j', target, ...]`. */
export type RuleSpec = readonly string[];

export interface NatRuleSet {
  family: IpFamily;
  /** The chains to create, in order. */
  chains: readonly string[];
  /** The rules inside them, in order. */
  rules: readonly RuleSpec[];
  /**
   * The jumps from PREROUTING and OUTPUT. Written last, so no packet is redirected while the
   * chains are half built, and removed first on cleanup for the same reason.
   */
  jumps: readonly RuleSpec[];
}

export type RulesConfig = Pick<
  ProxyInitConfig,
  'inboundPort' | 'outboundPort' | 'adminPort' | 'proxyUid' | 'proxyGid' | 'inboundPortsToIgnore' | 'outboundPortsToIgnore' | 'subnetsToIgnore'
>;

/** iptables' multiport match takes at most 15 ports per rule, a range counting as two. */
export const MULTIPORT_SLOTS = 15;

/** `6000-6010` as multiport writes it (`6000:6010`), packed into as few rules as fit. */
export function multiportLists(ranges: readonly PortRange[]): string[] {
  const lists: string[] = [];
  let current: string[] = [];
  let used = 0;
  for (const r of ranges) {
    const cost = r.from === r.to ? 1 : 2;
    if (used + cost > MULTIPORT_SLOTS) {
      lists.push(current.join(','));
      current = [];
      used = 0;
    }
    current.push(r.from === r.to ? String(r.from) : `${r.from}:${r.to}`);
    used += cost;
  }
  if (current.length) lists.push(current.join(','));
  return lists;
}

const comment = (text: string): string[] => ['-m', 'comment', '--comment', text];
const tcpPorts = (list: string): string[] => ['-p', 'tcp', '-m', 'multiport', '--dports', list];

function inboundRules(cfg: RulesConfig): RuleSpec[] {
  // The proxy's own inbound port is skipped so a connection the proxy makes to itself is
  // not redirected again; the admin port so kubelet's probes reach /ready and /live even
  // while the inbound proxy is not serving.
  const ignored: PortRange[] = [{ from: cfg.inboundPort, to: cfg.inboundPort }, { from: cfg.adminPort, to: cfg.adminPort }];
  for (const r of cfg.inboundPortsToIgnore) if (!ignored.some((i) => i.from === r.from && i.to === r.to)) ignored.push(r);
  return [
    ['-A', CHAINS.inboundRedirect, '-p', 'tcp', ...comment('lanyard-to-inbound-proxy'), '-j', 'REDIRECT', '--to-ports', String(cfg.inboundPort)],
    ...multiportLists(ignored).map((list) => ['-A', CHAINS.prerouting, ...tcpPorts(list), ...comment('lanyard-skip-inbound-ports'), '-j', 'RETURN']),
    ['-A', CHAINS.prerouting, '-p', 'tcp', ...comment('lanyard-redirect-inbound'), '-j', CHAINS.inboundRedirect],
  ];
}

function outboundRules(cfg: RulesConfig, family: IpFamily): RuleSpec[] {
  const rules: RuleSpec[] = [
    ['-A', CHAINS.outboundRedirect, '-p', 'tcp', ...comment('lanyard-to-outbound-proxy'), '-j', 'REDIRECT', '--to-ports', String(cfg.outboundPort)],
    // The proxy dials the original destination itself; without this exemption its own
    // connection would be redirected back to its outbound port, forever.
    ['-A', CHAINS.output, '-m', 'owner', '--uid-owner', String(cfg.proxyUid), ...comment('lanyard-skip-proxy-uid'), '-j', 'RETURN'],
  ];
  if (cfg.proxyGid !== null) {
    rules.push(['-A', CHAINS.output, '-m', 'owner', '--gid-owner', String(cfg.proxyGid), ...comment('lanyard-skip-proxy-gid'), '-j', 'RETURN']);
  }
  // Nothing leaving on lo is redirected: 127.0.0.0/8 and ::1 (the proxy handing inbound
  // connections to the app, the app talking to itself), and also the pod's own IP, which
  // the kernel routes over lo. Redirecting those would loop the proxy through itself.
  rules.push(['-A', CHAINS.output, '-o', 'lo', ...comment('lanyard-skip-loopback'), '-j', 'RETURN']);
  for (const list of multiportLists(cfg.outboundPortsToIgnore)) {
    rules.push(['-A', CHAINS.output, ...tcpPorts(list), ...comment('lanyard-skip-outbound-ports'), '-j', 'RETURN']);
  }
  for (const s of cfg.subnetsToIgnore) {
    if (s.family === family) rules.push(['-A', CHAINS.output, '-d', s.cidr, ...comment('lanyard-skip-subnet'), '-j', 'RETURN']);
  }
  rules.push(['-A', CHAINS.output, '-p', 'tcp', ...comment('lanyard-redirect-outbound'), '-j', CHAINS.outboundRedirect]);
  return rules;
}

/** The rule set for one address family (ignored subnets of the other family are left out). */
export function buildNatRules(cfg: RulesConfig, family: IpFamily): NatRuleSet {
  return {
    family,
    chains: OWN_CHAINS,
    rules: [...inboundRules(cfg), ...outboundRules(cfg, family)],
    jumps: [
      ['-A', HOOKS.prerouting, ...comment('lanyard-inbound'), '-j', CHAINS.prerouting],
      ['-A', HOOKS.output, ...comment('lanyard-outbound'), '-j', CHAINS.output],
    ],
  };
}
