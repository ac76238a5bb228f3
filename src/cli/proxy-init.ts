/**
 * `lanyard proxy-init`: the init container that writes the pod's nat rules so the app's TCP
 * goes through the sidecar without the app knowing. Every flag has a LANYARD_INIT_*
 * variable; the flag wins, and an error names whichever of the two was used.
 */
import { Option, type Command } from 'commander';
import { PROXY_INIT_FLAGS, parseProxyInitConfig, type ProxyInitKey, type RawProxyInitConfig } from '../../proxy/init/init-config.js';
import { runProxyInit } from '../../proxy/init/proxy-init.js';

/** The placeholder shown in --help for each option that takes a value. */
const VALUE: Partial<Record<ProxyInitKey, string>> = {
  inboundPort: '<port>',
  outboundPort: '<port>',
  adminPort: '<port>',
  proxyUid: '<uid>',
  proxyGid: '<gid>',
  inboundPortsToIgnore: '<ports>',
  outboundPortsToIgnore: '<ports>',
  subnetsToIgnore: '<cidrs>',
  iptablesMode: '<mode>',
  ipv6: '[mode]',
  netns: '<name>',
};

const KEYS = Object.keys(PROXY_INIT_FLAGS) as ProxyInitKey[];

export function registerProxyInit(program: Command): void {
  const cmd = program
    .command('proxy-init')
    .description("Write the pod's nat rules (like linkerd-init): inbound TCP to the proxy's 4143, the app's outbound TCP to 4140, the proxy's own traffic untouched.");
  for (const key of KEYS) {
    const f = PROXY_INIT_FLAGS[key];
    const flags = f.bool ? f.flag : `${f.flag} ${VALUE[key]}`;
    cmd.addOption(new Option(flags, `${f.help} [env: ${f.env}]${f.def !== undefined && !f.bool ? ` (default: ${f.def})` : ''}`));
  }
  // `--ipv6` alone means on; `--no-ipv6` is the natural spelling of off.
  cmd.addOption(new Option('--no-ipv6', 'same as --ipv6 off'));
  cmd.addHelpText(
    'after',
    `
Chains (nat table; nothing else is touched, --cleanup removes exactly these):
  PREROUTING -> LANYARD_PREROUTING -> LANYARD_INBOUND_REDIRECT   (REDIRECT to --inbound-port)
  OUTPUT     -> LANYARD_OUTPUT     -> LANYARD_OUTBOUND_REDIRECT  (REDIRECT to --outbound-port)
Never redirected: inbound to the inbound and admin ports; outbound from --proxy-uid
(and --proxy-gid), anything leaving on lo, and the ignored ports and subnets.

Examples:
  lanyard proxy-init --dry-run
  lanyard proxy-init --outbound-ports-to-ignore 25,587,6000-6010 --subnets-to-ignore 10.96.0.0/12
  lanyard proxy-init --cleanup`,
  );
  cmd.action(async (opts: Record<string, string | boolean | undefined>) => {
    const raw: RawProxyInitConfig = {};
    const fromFlag = new Set<ProxyInitKey>();
    for (const key of KEYS) {
      const v = opts[key];
      if (v !== undefined) {
        raw[key] = typeof v === 'boolean' ? (key === 'ipv6' ? (v ? 'on' : 'off') : String(v)) : v;
        fromFlag.add(key);
      } else if (process.env[PROXY_INIT_FLAGS[key].env] !== undefined) {
        raw[key] = process.env[PROXY_INIT_FLAGS[key].env];
      }
    }
    const nameOf = (key: ProxyInitKey) => (fromFlag.has(key) || raw[key] === undefined ? PROXY_INIT_FLAGS[key].flag : PROXY_INIT_FLAGS[key].env);
    const cfg = parseProxyInitConfig(raw, nameOf);
    // A reader that goes away (`| head`) must not kill the run between two iptables
    // commands: the commands matter, their echo does not.
    process.stdout.on('error', () => undefined);
    await runProxyInit(cfg, {
      print: (line) => process.stdout.write(line + '\n'),
      note: (line) => process.stderr.write(line + '\n'),
    });
  });
}
