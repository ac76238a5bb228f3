/**
 * `lanyard discovery`: which identity to expect at an address, from a static file (local
 * runs, tests) or from the Kubernetes API (a watch of Pods).
 *
 * A proxy trusts these answers to decide whom it expects at a destination, so anyone who
 * could answer in discovery's place could redirect a workload's mTLS to a peer of their
 * choosing. In a cluster discovery therefore serves TLS with a certificate for its own
 * identity, obtained through Certify with its projected token like the injector's
 * (certified-serving.ts) and renewed in place; proxies verify it with
 * LANYARD_PROXY_DISCOVERY_NAME. Plaintext is for loopback (`--tls off` is the default only
 * there), and static certificate files remain for local runs.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { DiscoveryService } from '../discovery/discovery-service.js';
import type { EndpointSource } from '../discovery/endpoint.js';
import { StaticSource } from '../discovery/static-source.js';
import type { TrustDomain } from '../pki/names.js';
import { ReloadableServerCredentials } from '../serving/reloadable-server-credentials.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { formatAddress, isLoopbackHost, type HostPort } from '../util/address.js';
import { addCertifyOptions, CertifiedServing, readTrustAnchorsFlag, type CertifyFlags } from './certified-serving.js';
import { classified, isKubeconfigError, UsageError } from './cli-conventions.js';
import { addressOption, choiceOption, flagOption, logLevelOption, pathOption, readOptionFile, textOption, trustDomainFrom, trustDomainOption, type LogLevel } from './cli-options.js';

export const TLS_MODES = ['certify', 'files', 'off'] as const;
export type TlsMode = (typeof TLS_MODES)[number];

interface DiscoveryOptions extends CertifyFlags {
  addr: HostPort;
  adminAddr: HostPort;
  static?: string;
  kubernetes?: boolean;
  kubeconfig?: string;
  namespace?: string;
  trustDomain: string;
  controlNamespace: string;
  tls?: TlsMode;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: LogLevel;
}

export function registerDiscovery(program: Command): void {
  const cmd = program
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
    .addOption(
      choiceOption(
        '--tls <mode>',
        'certify: a certificate for its own identity from the identity service, renewed in place; files: --tls-cert/--tls-key; off: plaintext (default: files with --tls-cert, off on a loopback --addr, certify otherwise)',
        TLS_MODES,
        { env: 'LANYARD_DISCOVERY_TLS' },
      ),
    )
    .addOption(pathOption('--tls-cert <file>', 'with --tls files: serve this certificate chain', { env: 'LANYARD_DISCOVERY_TLS_CERT' }))
    .addOption(pathOption('--tls-key <file>', 'key for --tls-cert', { env: 'LANYARD_DISCOVERY_TLS_KEY' }));
  addCertifyOptions(cmd, 'discovery', 'required with --tls certify')
    .addOption(logLevelOption())
    .addHelpText(
      'after',
      '\nExamples:\n  lanyard discovery --static endpoints.json --addr 127.0.0.1:8086\n  lanyard discovery --kubernetes --addr 0.0.0.0:8086 --trust-anchors /var/run/lanyard/trust-anchors/ca-bundle.crt   # TLS through Certify\n',
    )
    .action(async (o: DiscoveryOptions, c: Command) => {
      // A KUBECONFIG from the environment may be a list; loadKubeConfig merges it.
      if (c.getOptionValueSource('kubeconfig') === 'env') o.kubeconfig = undefined;
      await runDiscovery(o);
    });
}

/**
 * How discovery serves, from the flags: what is asked for, else static files when given,
 * else plaintext only where nothing on a network path can see it (a loopback listener).
 */
export function chooseTlsMode(o: { tls?: TlsMode; tlsCert?: string; tlsKey?: string; addr: HostPort }): TlsMode {
  const files = o.tlsCert !== undefined || o.tlsKey !== undefined;
  if (files && !(o.tlsCert && o.tlsKey)) throw new UsageError('--tls-cert and --tls-key go together');
  if (files && o.tls && o.tls !== 'files') throw new UsageError(`--tls-cert and --tls-key go with --tls files, not --tls ${o.tls}`);
  if (o.tls === 'files' && !files) throw new UsageError('--tls files needs --tls-cert and --tls-key');
  return o.tls ?? (files ? 'files' : isLoopbackHost(o.addr.host) ? 'off' : 'certify');
}

async function runDiscovery(o: DiscoveryOptions): Promise<void> {
  const { addr, adminAddr: admin } = o;
  if (!o.static === !o.kubernetes) throw new UsageError('exactly one of --static <file> or --kubernetes is required');
  const mode = chooseTlsMode(o);
  if (o.static) readOptionFile('--static', 'LANYARD_DISCOVERY_STATIC', o.static);
  const td = trustDomainFrom(o.trustDomain, o.controlNamespace);
  const anchorsPem = mode === 'certify' ? readTrustAnchorsFlag('discovery', o.trustAnchors, `with --tls certify${o.tls ? '' : ' (the default when --addr is not a loopback address; --tls off serves plaintext)'}`) : '';
  const credentials = mode === 'off' ? undefined : new ReloadableServerCredentials();
  if (mode === 'files') {
    credentials!.update({ cert: readOptionFile('--tls-cert', 'LANYARD_DISCOVERY_TLS_CERT', o.tlsCert!), key: readOptionFile('--tls-key', 'LANYARD_DISCOVERY_TLS_KEY', o.tlsKey!) });
  }
  const logger = createLogger({ component: 'discovery', level: o.logLevel });
  let serving: CertifiedServing | null = null;
  const source = await buildSource(o, td, logger);
  const service = new DiscoveryService({
    source,
    host: addr.host,
    port: addr.port,
    adminHost: admin.host,
    adminPort: admin.port,
    credentials,
    ready: () => serving?.readiness() ?? { ready: true },
    logger,
  });
  if (mode === 'certify') {
    serving = new CertifiedServing({
      component: 'discovery',
      flags: o,
      trustDomain: td,
      anchorsPem,
      registry: service.registry,
      logger,
      onCertificate: (pair) => credentials!.update({ key: pair.keyPem, cert: pair.chainPem }),
    });
  }
  // Serving starts at once; until the first certificate arrives, connections are refused.
  const running = await service.start();
  serving?.start();
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    serving?.stop();
    void service.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  await serving?.ready;
  if (mode === 'off' && !isLoopbackHost(addr.host)) logger.warn({ addr: formatAddress(addr) }, 'serving plaintext beyond loopback: anyone on the network path can change what proxies expect (use --tls certify)');
  logger.info(
    {
      addr: formatAddress({ host: addr.host, port: running.port }),
      admin: formatAddress({ host: admin.host, port: running.admin.port }),
      source: source.kind,
      tls: mode,
      ...(serving ? { identity: serving.identity } : {}),
    },
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
