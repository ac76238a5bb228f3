/**
 * `lanyard proxy`: the sidecar. Configuration comes from LANYARD_PROXY_* variables; each
 * has an equivalent flag (the variable name without the prefix, lower-case, dashed; a
 * boolean is a flag without a value, `--no-<name>` when it defaults to true), and a flag
 * overrides its variable. proxy/config.ts parses both, with src/util's grammar, and names
 * both in its errors.
 */
import { Option, type Command } from 'commander';
import { PROXY_ENV, ProxyConfigError, parseProxyConfig, proxyFlag } from '../../proxy/config.js';
import { SidecarProxy } from '../../proxy/sidecar-proxy.js';
import { PolicyError } from '../../proxy/policy/policy-error.js';
import { RoutesError } from '../../proxy/outbound/routes.js';
import { createLogger } from '../telemetry/logger.js';
import { asUsage, setKind, type ValueKind } from './cli-conventions.js';

/** The flag equivalent to a proxy variable (README's table lists both). */
export const flagFor = proxyFlag;

/** Placeholders of variables whose name does not say what they hold. */
const PLACEHOLDERS: Record<string, [string, ValueKind]> = {
  LANYARD_PROXY_TRUST_ANCHORS: ['<pem|file>', 'text'],
  LANYARD_PROXY_LOCAL_IDENTITY: ['<identity>', 'text'],
  LANYARD_PROXY_IDENTITY_NAME: ['<identity>', 'text'],
  LANYARD_PROXY_DISCOVERY_NAME: ['<identity>', 'text'],
  LANYARD_PROXY_ROUTES: ['<yaml>', 'text'],
  LANYARD_PROXY_POLICY: ['<yaml>', 'text'],
  LANYARD_PROXY_OUTBOUND_UNMESHED: ['<allow|deny>', 'choice'],
  LANYARD_PROXY_DEFAULT_POLICY: ['<policy>', 'choice'],
  LANYARD_PROXY_CLUSTER_NETWORKS: ['<cidrs>', 'text'],
  LANYARD_TRUST_DOMAIN: ['<domain>', 'text'],
  LANYARD_CONTROL_NAMESPACE: ['<ns>', 'text'],
  LANYARD_LOG_LEVEL: ['<level>', 'choice'],
};

const DURATION = /^(\d+(\.\d+)?(ms|s|m|h|d))+$/;

/**
 * What a variable holds, from its name and default: a variable added to PROXY_ENV gets a
 * fitting placeholder without a change here when its name follows the usual suffixes.
 */
export function proxyValueKind(name: string, def: string | undefined): [placeholder: string | null, kind: ValueKind] {
  if (def === 'true' || def === 'false') return [null, 'boolean'];
  if (PLACEHOLDERS[name]) return PLACEHOLDERS[name];
  if (/_ADDR$/.test(name)) return ['<host:port>', 'address'];
  if (/_FILE$/.test(name)) return ['<file>', 'file'];
  if (/_DIR$/.test(name)) return ['<dir>', 'dir'];
  if (/_PORT$/.test(name)) return ['<port>', 'port'];
  if (/_(TIMEOUT|GRACE|REFRESH|INTERVAL|TTL|AGE|DELAY|PERIOD)$/.test(name) || (def !== undefined && DURATION.test(def))) return ['<duration>', 'duration'];
  if (/(^LANYARD_PROXY_MAX_|_(COUNT|LIMIT|SIZE|BYTES)$)/.test(name) || (def !== undefined && /^\d+$/.test(def))) return ['<n>', 'integer'];
  return [`<${name.split('_').pop()!.toLowerCase()}>`, 'text'];
}

function proxyOption(name: string, def: string | undefined, help: string): Option {
  const [placeholder, kind] = proxyValueKind(name, def);
  const o = new Option(placeholder ? `${proxyFlag(name)} ${placeholder}` : proxyFlag(name), help).env(name);
  // For --help only: the action reads flags given on the command line, and proxy/config.ts
  // reads the variables and applies these defaults itself.
  if (placeholder && def !== undefined) o.default(def, def);
  return setKind(o, kind);
}

export function registerProxy(program: Command): void {
  const cmd = program
    .command('proxy')
    .description('run the sidecar proxy: workload certificate, mutual TLS inbound (4143) and outbound (4140), peer authorization, audit');
  const variableOf = new Map<string, string>();
  for (const [name, [def, help]] of Object.entries(PROXY_ENV)) {
    const o = proxyOption(name, def, help);
    variableOf.set(o.attributeName(), name);
    cmd.addOption(o);
  }
  cmd.addHelpText(
    'after',
    `
Every option is also a variable (shown as env:); a flag overrides its variable.

Example (explicit mode, no iptables):
  LANYARD_PROXY_TRUST_ANCHORS=certs/dev/ca.crt \\
  LANYARD_PROXY_LOCAL_IDENTITY=web.default.serviceaccount.identity.lanyard.cluster.local \\
  LANYARD_PROXY_TOKEN_FILE=/tmp/web.token LANYARD_PROXY_APP_PORT=8080 \\
  LANYARD_PROXY_ROUTES='[{listen: "127.0.0.1:4140", upstream: "127.0.0.1:5143", identity: "api.default.serviceaccount.identity.lanyard.cluster.local"}]' \\
  lanyard proxy`,
  );
  cmd.action(async (opts: Record<string, string | boolean | undefined>) => {
    const env: Record<string, string | undefined> = { ...process.env };
    for (const [key, name] of variableOf) {
      if (cmd.getOptionValueSource(key) === 'cli') env[name] = String(opts[key]);
    }
    // Configuration errors (the variables, the routes, the policy variables and file) are
    // the operator's: usage errors. The policy is read when the proxy is built and started.
    const isConfigError = (err: Error) => err instanceof ProxyConfigError || err instanceof RoutesError || err instanceof PolicyError;
    let cfg;
    let proxy: SidecarProxy;
    let logger;
    try {
      cfg = parseProxyConfig(env);
      logger = createLogger({ component: 'proxy', level: cfg.logLevel as 'info' });
      proxy = new SidecarProxy(cfg, { logger, env });
    } catch (e) {
      throw asUsage(e, isConfigError);
    }
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      void proxy.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    // logrotate moves the audit file, then sends SIGHUP: records go on into a new file at the path.
    process.on('SIGHUP', () => proxy.reopenAudit());
    try {
      await proxy.start();
    } catch (e) {
      throw asUsage(e, (err) => err instanceof PolicyError);
    }
  });
}
