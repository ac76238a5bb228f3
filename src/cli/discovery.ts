/**
 * `lanyard discovery`: which identity to expect at an address, from a static file (local
 * runs, tests) or from the Kubernetes API (a watch of Pods).
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DiscoveryService } from '../discovery/discovery-service.js';
import type { EndpointSource } from '../discovery/endpoint.js';
import { StaticSource } from '../discovery/static-source.js';
import { TrustDomain } from '../pki/names.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { formatAddress, type HostPort } from '../util/address.js';
import { classified, isKubeconfigError, UsageError } from './cli-conventions.js';
import { addressOption, flagOption, logLevelOption, pathOption, readOptionFile, textOption, trustDomainFrom, trustDomainOption, type LogLevel } from './cli-options.js';

interface DiscoveryOptions {
  addr: HostPort;
  adminAddr: HostPort;
  static?: string;
  kubernetes?: boolean;
  kubeconfig?: string;
  namespace?: string;
  trustDomain: string;
  controlNamespace: string;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: LogLevel;
}

export function registerDiscovery(program: Command): void {
  program
    .command('discovery')
    .description('run the discovery service: resolve an IP:port to {meshed, identity, SPIFFE ID} and stream changes (gRPC)')
    .addOption(addressOption('--addr <host:port>', 'gRPC listener', 'listen', { env: 'LANYARD_DISCOVERY_ADDR', default: '127.0.0.1:8086' }))
    .addOption(addressOption('--admin-addr <host:port>', 'admin HTTP listener', 'listen', { env: 'LANYARD_DISCOVERY_ADMIN_ADDR', default: '127.0.0.1:9996' }))
    .addOption(
      pathOption('--static <file>', 'static endpoints: a JSON list like [{"address": "10.0.0.2", "identity": "<dns identity>"}], reloaded on change', { env: 'LANYARD_DISCOVERY_STATIC' }),
    )
    .addOption(flagOption('--kubernetes', 'watch Pods through the Kubernetes API (in-cluster or --kubeconfig)'))
    .addOption(pathOption('--kubeconfig <file>', 'kubeconfig for --kubernetes (default: the files the variable lists, merged as kubectl merges them; else in-cluster, else ~/.kube/config)', { env: 'KUBECONFIG' }))
    .addOption(textOption('--namespace <ns>', 'watch one namespace (default: all)', { env: 'LANYARD_DISCOVERY_NAMESPACE' }))
    .addOption(trustDomainOption())
    .addOption(textOption('--control-namespace <ns>', 'control-plane namespace used in identities', { env: 'LANYARD_CONTROL_NAMESPACE', default: 'lanyard' }))
    .addOption(pathOption('--tls-cert <file>', 'serve TLS with this certificate chain (default: plaintext)', { env: 'LANYARD_DISCOVERY_TLS_CERT' }))
    .addOption(pathOption('--tls-key <file>', 'key for --tls-cert', { env: 'LANYARD_DISCOVERY_TLS_KEY' }))
    .addOption(logLevelOption())
    .addHelpText('after', '\nExamples:\n  lanyard discovery --static endpoints.json --addr 127.0.0.1:8086\n  lanyard discovery --kubernetes --addr 0.0.0.0:8086\n')
    .action(async (o: DiscoveryOptions, cmd: Command) => {
      // A KUBECONFIG from the environment may be a list; loadKubeConfig merges it.
      if (cmd.getOptionValueSource('kubeconfig') === 'env') o.kubeconfig = undefined;
      await runDiscovery(o);
    });
}

async function runDiscovery(o: DiscoveryOptions): Promise<void> {
  const { addr, adminAddr: admin } = o;
  if (!o.static === !o.kubernetes) throw new UsageError('exactly one of --static <file> or --kubernetes is required');
  if (!o.tlsCert !== !o.tlsKey) throw new UsageError('--tls-cert and --tls-key go together');
  if (o.static) readOptionFile('--static', 'LANYARD_DISCOVERY_STATIC', o.static);
  const td = trustDomainFrom(o.trustDomain, o.controlNamespace);
  const logger = createLogger({ component: 'discovery', level: o.logLevel });
  const source = await buildSource(o, td, logger);
  const tls =
    o.tlsCert && o.tlsKey
      ? { certPem: readOptionFile('--tls-cert', 'LANYARD_DISCOVERY_TLS_CERT', o.tlsCert), keyPem: readOptionFile('--tls-key', 'LANYARD_DISCOVERY_TLS_KEY', o.tlsKey) }
      : undefined;
  const service = new DiscoveryService({ source, host: addr.host, port: addr.port, adminHost: admin.host, adminPort: admin.port, tls, logger });
  const running = await service.start();
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    void service.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  logger.info(
    { addr: formatAddress({ host: addr.host, port: running.port }), admin: formatAddress({ host: admin.host, port: running.admin.port }), source: source.kind, tls: !!tls },
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
  const kubeConfig = await classified(() => loadKubeConfig({ path: o.kubeconfig }), isKubeconfigError);
  const client = new K8sClient({ kubeConfig });
  return new KubernetesSource({ client, trustDomain: td, namespace: o.namespace, logger });
}
