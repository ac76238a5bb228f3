/**
 * `lanyard proxy`: the sidecar. Configuration comes from LANYARD_PROXY_* variables; each
 * has an equivalent flag (the variable name without the prefix, lower-case, dashed), and a
 * flag overrides its variable.
 */
import { Option, type Command } from 'commander';
import { PROXY_ENV, parseProxyConfig } from '../../proxy/config.js';
import { SidecarProxy } from '../../proxy/sidecar-proxy.js';
import { createLogger } from '../telemetry/logger.js';

export function flagFor(env: string): string {
  return '--' + env.replace(/^LANYARD_(PROXY_)?/, '').toLowerCase().replace(/_/g, '-');
}

export function registerProxy(program: Command): void {
  const cmd = program
    .command('proxy')
    .description('Run the sidecar proxy: workload certificate, mutual TLS inbound (4143) and outbound (4140), peer authorization, audit.');
  for (const [env, [def, help]] of Object.entries(PROXY_ENV)) {
    const o = new Option(`${flagFor(env)} <value>`, `${help} [env: ${env}]${def !== undefined ? ` (default: ${def})` : ''}`);
    cmd.addOption(o);
  }
  cmd.addHelpText(
    'after',
    `
Example (explicit mode, no iptables):
  LANYARD_PROXY_TRUST_ANCHORS=certs/dev/ca.crt \\
  LANYARD_PROXY_LOCAL_IDENTITY=web.default.serviceaccount.identity.lanyard.cluster.local \\
  LANYARD_PROXY_TOKEN_FILE=/tmp/web.token LANYARD_PROXY_APP_PORT=8080 \\
  LANYARD_PROXY_ROUTES='[{listen: "127.0.0.1:4140", upstream: "127.0.0.1:5143", identity: "api.default.serviceaccount.identity.lanyard.cluster.local"}]' \\
  lanyard proxy`,
  );
  cmd.action(async (opts: Record<string, string | undefined>) => {
    const env: Record<string, string | undefined> = { ...process.env };
    for (const name of Object.keys(PROXY_ENV)) {
      const key = flagFor(name).slice(2).replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());
      if (opts[key] !== undefined) env[name] = opts[key];
    }
    const cfg = parseProxyConfig(env);
    const logger = createLogger({ component: 'proxy', level: cfg.logLevel as 'info' });
    const proxy = new SidecarProxy(cfg, { logger, env });
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'shutting down');
      void proxy.stop().then(() => process.exit(0));
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
    await proxy.start();
  });
}
