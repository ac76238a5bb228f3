/**
 * `lanyard proxy-init`: the init container that writes the pod's nat rules so the app's TCP
 * goes through the sidecar without the app knowing. Every flag has a LANYARD_INIT_*
 * variable; the flag wins, and an error names both. proxy/init/init-config.ts checks the
 * values with src/util's grammar.
 */
import { Option, type Command } from 'commander';
import { PROXY_INIT_FLAGS, parseProxyInitConfig, type ProxyInitKey, type RawProxyInitConfig } from '../../proxy/init/init-config.js';
import { ProxyInitError } from '../../proxy/init/init-error.js';
import { runProxyInit, type ProxyInitReport } from '../../proxy/init/proxy-init.js';
import { asUsage, outputOption, printResult, setKind, type ValueKind } from './cli-conventions.js';

/** The placeholder shown in --help for each option that takes a value, and what it holds. */
const VALUE: Partial<Record<ProxyInitKey, [string, ValueKind]>> = {
  inboundPort: ['<port>', 'port'],
  outboundPort: ['<port>', 'port'],
  adminPort: ['<port>', 'port'],
  proxyUid: ['<uid>', 'integer'],
  proxyGid: ['<gid>', 'integer'],
  inboundPortsToIgnore: ['<ports>', 'text'],
  outboundPortsToIgnore: ['<ports>', 'text'],
  subnetsToIgnore: ['<cidrs>', 'text'],
  iptablesMode: ['<mode>', 'choice'],
  ipv6: ['[mode]', 'choice'],
  netns: ['<name>', 'text'],
};

const KEYS = Object.keys(PROXY_INIT_FLAGS) as ProxyInitKey[];

function initOption(key: ProxyInitKey): Option {
  const f = PROXY_INIT_FLAGS[key];
  const [placeholder, kind] = f.bool ? [null, 'boolean' as const] : VALUE[key]!;
  const o = new Option(placeholder ? `${f.flag} ${placeholder}` : f.flag, f.help).env(f.env);
  // For --help only: init-config.ts applies the defaults itself.
  if (!f.bool && f.def !== undefined) o.default(f.def, f.def);
  return setKind(o, kind);
}

/** The report as JSON: the backend, and per address family what was (or would be) done. */
function reportJson(r: ProxyInitReport): unknown {
  return { backend: r.backend.name, iptables: r.backend.iptables, dryRun: r.dryRun, families: r.results };
}

export function registerProxyInit(program: Command): void {
  const cmd = program
    .command('proxy-init')
    .description("write the pod's nat rules (like linkerd-init): inbound TCP to the proxy's 4143, the app's outbound TCP to 4140, the proxy's own traffic untouched");
  for (const key of KEYS) cmd.addOption(initOption(key));
  // `--ipv6` alone means on; `--no-ipv6` is the natural spelling of off.
  cmd.addOption(setKind(new Option('--no-ipv6', 'same as --ipv6 off'), 'boolean'));
  cmd.addOption(outputOption());
  cmd.addHelpText(
    'after',
    `
Chains (nat table; nothing else is touched, --cleanup removes exactly these):
  PREROUTING -> LANYARD_PREROUTING -> LANYARD_INBOUND_REDIRECT   (REDIRECT to --inbound-port)
  OUTPUT     -> LANYARD_OUTPUT     -> LANYARD_OUTBOUND_REDIRECT  (REDIRECT to --outbound-port)
Never redirected: inbound to the inbound and admin ports; outbound from --proxy-uid
(and --proxy-gid), anything leaving on lo, and the ignored ports and subnets.
Output: the commands, one per line, as they run (text); or, at the end, the backend and
each family's status and commands (json).

Examples:
  lanyard proxy-init --dry-run
  lanyard proxy-init --dry-run -o json | jq -r '.families[].commands[]'
  lanyard proxy-init --outbound-ports-to-ignore 25,587,6000-6010 --subnets-to-ignore 10.96.0.0/12
  lanyard proxy-init --cleanup`,
  );
  cmd.action(async (opts: Record<string, string | boolean | undefined>) => {
    const raw: RawProxyInitConfig = {};
    for (const key of KEYS) {
      const source = cmd.getOptionValueSource(key);
      const v = opts[key];
      if (v === undefined || (source !== 'cli' && source !== 'env')) continue;
      raw[key] = typeof v === 'boolean' ? (key === 'ipv6' ? (v ? 'on' : 'off') : String(v)) : v;
    }
    const cfg = (() => {
      try {
        return parseProxyInitConfig(raw);
      } catch (e) {
        throw asUsage(e, (err) => err instanceof ProxyInitError && err.code === 'ERR_INIT_FLAG');
      }
    })();
    const json = opts.output === 'json';
    // A reader that goes away (`| head`) must not kill the run between two iptables
    // commands: the commands matter, their echo does not.
    process.stdout.on('error', () => undefined);
    const report = await runProxyInit(cfg, {
      print: (line) => (json ? undefined : process.stdout.write(line + '\n')),
      note: (line) => process.stderr.write(line + '\n'),
    });
    if (json) printResult('json', reportJson(report), () => '');
  });
}
