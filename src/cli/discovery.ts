/**
 * `lanyard discovery`: which identity to expect at an address, from a static file (local
 * runs, tests) or from the Kubernetes API (a watch of Pods).
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DiscoveryService } from '../discovery/discovery-service.js';
import type { EndpointSource } from '../discovery/endpoint.js';
import { StaticSource } from '../discovery/static-source.js';
import { TrustDomain } from '../pki/names.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { envOption } from './env.js';
import { formatHostPort, parseHostPort } from './parse.js';

interface DiscoveryOptions {
  addr: string;
  adminAddr: string;
  static?: string;
  kubernetes: boolean;
  kubeconfig?: string;
  namespace?: string;
  trustDomain: string;
  controlNamespace: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: string;
}

export function registerDiscovery(program: Command): void {
  program
    .command('discovery')
    .description('Run the discovery service: resolve an IP:port to {meshed, identity, SPIFFE ID} and stream changes (gRPC).')
    .addOption(envOption('--addr <host:port>', 'gRPC listener', 'LANYARD_DISCOVERY_ADDR', '127.0.0.1:8086'))
    .addOption(envOption('--admin-addr <host:port>', 'admin HTTP listener', 'LANYARD_DISCOVERY_ADMIN_ADDR', '127.0.0.1:9996'))
    .addOption(envOption('--static <file>', 'static endpoints: a JSON list like [{"address": "10.0.0.2", "identity": "<dns identity>"}], reloaded on change', 'LANYARD_DISCOVERY_STATIC'))
    .option('--kubernetes', 'watch Pods through the Kubernetes API (in-cluster or --kubeconfig)', false)
    .addOption(envOption('--kubeconfig <file>', 'kubeconfig for --kubernetes', 'KUBECONFIG'))
    .addOption(envOption('--namespace <ns>', 'watch one namespace (default: all)', 'LANYARD_DISCOVERY_NAMESPACE'))
    .addOption(envOption('--trust-domain <domain>', 'trust domain', 'LANYARD_TRUST_DOMAIN', 'cluster.local'))
    .addOption(envOption('--control-namespace <ns>', 'control-plane namespace used in identities', 'LANYARD_CONTROL_NAMESPACE', 'lanyard'))
    .addOption(envOption('--tls-cert <file>', 'serve TLS with this certificate chain (default: plaintext)', 'LANYARD_DISCOVERY_TLS_CERT'))
    .addOption(envOption('--tls-key <file>', 'key for --tls-cert', 'LANYARD_DISCOVERY_TLS_KEY'))
    .addOption(envOption('--log-level <level>', 'log level', 'LANYARD_LOG_LEVEL', 'info'))
    .addHelpText('after', '\nExamples:\n  lanyard discovery --static endpoints.json --addr 127.0.0.1:8086\n  lanyard discovery --kubernetes --addr 0.0.0.0:8086\n')
    .action(async (o: DiscoveryOptions) => runDiscovery(o));
}

async function runDiscovery(o: DiscoveryOptions): Promise<void> {
  const addr = parseHostPort(o.addr, '--addr (or LANYARD_DISCOVERY_ADDR)');
  const admin = parseHostPort(o.adminAddr, '--admin-addr (or LANYARD_DISCOVERY_ADMIN_ADDR)');
  if (!o.static === !o.kubernetes) throw new Error('exactly one of --static FILE or --kubernetes is required');
  if (!o.tlsCert !== !o.tlsKey) throw new Error('--tls-cert and --tls-key go together');
  const td = new TrustDomain(o.trustDomain, o.controlNamespace);
  const logger = createLogger({ component: 'discovery', level: o.logLevel as 'info' });
  const source = await buildSource(o, td, logger);
  const tls = o.tlsCert && o.tlsKey ? { certPem: readFileSync(o.tlsCert, 'utf8'), keyPem: readFileSync(o.tlsKey, 'utf8') } : undefined;
  const service = new DiscoveryService({ source, host: addr.host, port: addr.port, adminHost: admin.host, adminPort: admin.port, tls, logger });
  const running = await service.start();
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    void service.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  logger.info(
    { addr: formatHostPort({ host: addr.host, port: running.port }), admin: formatHostPort({ host: admin.host, port: running.admin.port }), source: source.kind, tls: !!tls },
    'discovery service listening',
  );
}

async function buildSource(o: DiscoveryOptions, td: TrustDomain, logger: Logger): Promise<EndpointSource> {
  if (o.static) return new StaticSource({ file: resolve(o.static), trustDomain: td, logger });
  // The Kubernetes client is large; only this source loads it.
  const [{ KubernetesSource }, { K8sClient }, { loadKubeConfig }] = await Promise.all([
    import('../discovery/kubernetes-source.js'),
    import('../k8s/k8s-client.js'),
    import('../k8s/kubeconfig.js'),
  ]);
  const client = new K8sClient({ kubeConfig: loadKubeConfig({ path: o.kubeconfig }) });
  return new KubernetesSource({ client, trustDomain: td, namespace: o.namespace, logger });
}
