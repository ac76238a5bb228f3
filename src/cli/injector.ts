/**
 * `lanyard injector`: the mutating admission webhook. Its serving certificate comes from
 * Certify (its own service-account token, a CSR for its identity and its Service name) and
 * is renewed in place; the trust bundle it injects under and verifies with is a mounted file,
 * reloaded when it changes.
 */
import type { Command } from 'commander';
import { injectConfigFrom } from '../inject/inject-config.js';
import { InjectorServer } from '../inject/injector-server.js';
import { injectorServiceName } from '../inject/mesh-names.js';
import { KubernetesNamespaceAnnotations } from '../inject/namespace-annotations.js';
import { excludedNamespaces, WEBHOOK_PATH } from '../install/webhook-configuration.js';
import { bundleFingerprint } from '../pki/bundle-fingerprint.js';
import { TrustDomain } from '../pki/names.js';
import { AdminServer } from '../telemetry/admin-server.js';
import { createLogger } from '../telemetry/logger.js';
import { createRegistry } from '../telemetry/metrics.js';
import { formatAddress, type HostPort } from '../util/address.js';
import { addCertifyOptions, CertifiedServing, readTrustAnchorsFlag, type CertifyFlags } from './certified-serving.js';
import { addressOption, logLevelOption, pathOption, textOption, type LogLevel } from './cli-options.js';
import { addValuesOptions, valuesFrom, type ValuesFlags } from './values-options.js';

interface InjectorOptions extends ValuesFlags, CertifyFlags {
  addr: HostPort;
  adminAddr: HostPort;
  trustDomain?: string;
  controlNamespace?: string;
  kubeconfig?: string;
  logLevel: LogLevel;
}

export function registerInjector(program: Command): void {
  const env = (name: string) => `LANYARD_INJECTOR_${name}`;
  const cmd = program
    .command('injector')
    .description('run the mutating admission webhook that adds the proxy to pods annotated (or in namespaces annotated) lanyard.io/inject: enabled')
    .addOption(addressOption('--addr <host:port>', 'HTTPS listener for AdmissionReviews (POST /inject)', 'listen', { env: env('ADDR'), default: '0.0.0.0:8443' }))
    .addOption(addressOption('--admin-addr <host:port>', 'admin HTTP listener (/ready, /live, /metrics)', 'listen', { env: env('ADMIN_ADDR'), default: '0.0.0.0:9995' }));
  addCertifyOptions(cmd, 'injector', 'required')
    .addOption(textOption('--trust-domain <domain>', 'trust domain (overrides the values)', { env: 'LANYARD_TRUST_DOMAIN' }))
    .addOption(textOption('--control-namespace <ns>', 'control-plane namespace (overrides the values)', { env: 'LANYARD_CONTROL_NAMESPACE' }))
    .addOption(pathOption('--kubeconfig <file>', 'kubeconfig (default: in-cluster, then ~/.kube/config)', { env: 'KUBECONFIG' }))
    .addOption(logLevelOption());
  addValuesOptions(cmd).addHelpText('after', '\nExample (in the injector Deployment that `lanyard install` renders):\n  lanyard injector --trust-anchors /var/run/lanyard/trust-anchors/ca-bundle.crt --values /var/run/lanyard/injector/values.yaml\n');
  cmd.action((o: InjectorOptions) => runInjector(o));
}

async function runInjector(o: InjectorOptions): Promise<void> {
  const { addr, adminAddr } = o;
  const anchorsPem = readTrustAnchorsFlag('injector', o.trustAnchors, '(the bundle the webhook injects under and its certificate chains to)');
  const values = valuesFrom(o, [
    { flag: '--trust-domain', key: 'trustDomain', value: o.trustDomain },
    { flag: '--control-namespace', key: 'controlNamespace', value: o.controlNamespace },
  ]);
  const logger = createLogger({ component: 'injector', level: o.logLevel as 'info' });
  const registry = createRegistry({ processMetrics: true });
  let injectConfig = injectConfigFrom(values, bundleFingerprint(anchorsPem));
  let server: InjectorServer | null = null;
  const serving = new CertifiedServing({
    component: 'injector',
    flags: o,
    trustDomain: new TrustDomain(values.trustDomain, values.controlNamespace),
    anchorsPem,
    extraDnsNames: [injectorServiceName(values.controlNamespace)],
    registry,
    logger,
    onCertificate: (pair) => server?.updateCertificate(pair),
    // New pods get the new bundle's fingerprint.
    onTrustAnchors: (pem) => (injectConfig = injectConfigFrom(values, bundleFingerprint(pem))),
  });
  const admin = new AdminServer({ host: adminAddr.host, port: adminAddr.port, registry, ready: () => serving.readiness() });
  const adminInfo = await admin.start();
  serving.start();
  await serving.ready;

  const { K8sClient } = await import('../k8s/k8s-client.js');
  const { loadKubeConfig } = await import('../k8s/kubeconfig.js');
  const client = new K8sClient({ kubeConfig: loadKubeConfig({ path: o.kubeconfig }) });
  server = new InjectorServer({
    host: addr.host,
    port: addr.port,
    path: WEBHOOK_PATH,
    config: () => injectConfig,
    namespaces: new KubernetesNamespaceAnnotations(client, logger),
    excludedNamespaces: excludedNamespaces(values.controlNamespace),
    logger,
    registry,
  });
  const info = await server.start(serving.certificate.certificate!);
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    serving.stop();
    void Promise.all([server!.close(), admin.close()]).then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  logger.info({ addr: formatAddress({ host: addr.host, port: info.port }), admin: formatAddress({ host: adminAddr.host, port: adminInfo.port }), image: injectConfig.image }, 'injector listening');
}
