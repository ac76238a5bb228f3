/**
 * `lanyard injector`: the mutating admission webhook. Its serving certificate comes from
 * Certify (its own service-account token, a CSR for its identity and its Service name) and
 * is renewed in place; the trust bundle it injects under and verifies with is a mounted file,
 * reloaded when it changes.
 */
import type { Command } from 'commander';
import { CertifyClient } from '../../proxy/identity/certify-client.js';
import { TrustAnchorsFile } from '../../proxy/trust-anchors-file.js';
import { CertifiedServingCertificate } from '../inject/certified-serving-certificate.js';
import { injectConfigFrom } from '../inject/inject-config.js';
import { InjectorServer } from '../inject/injector-server.js';
import { componentName, injectorServiceName, PATHS, TOKEN_FILE } from '../inject/mesh-names.js';
import { KubernetesNamespaceAnnotations } from '../inject/namespace-annotations.js';
import { excludedNamespaces, WEBHOOK_PATH } from '../install/webhook-configuration.js';
import { bundleFingerprint } from '../pki/bundle-fingerprint.js';
import { TrustDomain } from '../pki/names.js';
import { AdminServer } from '../telemetry/admin-server.js';
import { createLogger } from '../telemetry/logger.js';
import { createRegistry, Gauge } from '../telemetry/metrics.js';
import { formatAddress, type HostPort } from '../util/address.js';
import { UsageError } from './cli-conventions.js';
import { addressOption, logLevelOption, pathOption, readOptionFile, textOption, type LogLevel } from './cli-options.js';
import { addValuesOptions, valuesFrom, type ValuesFlags } from './values-options.js';

interface InjectorOptions extends ValuesFlags {
  addr: HostPort;
  adminAddr: HostPort;
  identityAddr: HostPort;
  identityName?: string;
  trustAnchors?: string;
  tokenFile: string;
  serviceAccount: string;
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
    .addOption(addressOption('--admin-addr <host:port>', 'admin HTTP listener (/ready, /live, /metrics)', 'listen', { env: env('ADMIN_ADDR'), default: '0.0.0.0:9995' }))
    .addOption(addressOption('--identity-addr <host:port>', 'identity service, where the serving certificate comes from', 'dial', { env: env('IDENTITY_ADDR'), default: 'lanyard-identity.lanyard.svc.cluster.local:8080' }))
    .addOption(textOption('--identity-name <name>', "the identity service's identity (default lanyard-identity.<ns>.serviceaccount.identity.<ns>.<td>)", { env: env('IDENTITY_NAME') }))
    .addOption(pathOption('--trust-anchors <file>', 'trust bundle file (the mounted ConfigMap), reloaded when it changes; required', { env: env('TRUST_ANCHORS') }))
    .addOption(pathOption('--token-file <file>', 'projected service-account token presented to Certify', { env: env('TOKEN_FILE'), default: `${PATHS.tokenDir}/${TOKEN_FILE}` }))
    .addOption(textOption('--service-account <name>', "the injector's own service account (its identity)", { env: env('SERVICE_ACCOUNT'), default: componentName('injector') }))
    .addOption(textOption('--trust-domain <domain>', 'trust domain (overrides the values)', { env: 'LANYARD_TRUST_DOMAIN' }))
    .addOption(textOption('--control-namespace <ns>', 'control-plane namespace (overrides the values)', { env: 'LANYARD_CONTROL_NAMESPACE' }))
    .addOption(pathOption('--kubeconfig <file>', 'kubeconfig (default: in-cluster, then ~/.kube/config)', { env: 'KUBECONFIG' }))
    .addOption(logLevelOption());
  addValuesOptions(cmd).addHelpText('after', '\nExample (in the injector Deployment that `lanyard install` renders):\n  lanyard injector --trust-anchors /var/run/lanyard/trust-anchors/ca-bundle.crt --values /var/run/lanyard/injector/values.yaml\n');
  cmd.action((o: InjectorOptions) => runInjector(o));
}

async function runInjector(o: InjectorOptions): Promise<void> {
  const { addr, adminAddr } = o;
  const identityAddr = formatAddress(o.identityAddr);
  if (!o.trustAnchors) throw new UsageError('--trust-anchors (env LANYARD_INJECTOR_TRUST_ANCHORS): required');
  const values = valuesFrom(o, [
    { flag: '--trust-domain', key: 'trustDomain', value: o.trustDomain },
    { flag: '--control-namespace', key: 'controlNamespace', value: o.controlNamespace },
  ]);
  const logger = createLogger({ component: 'injector', level: o.logLevel as 'info' });
  const registry = createRegistry({ processMetrics: true });
  const td = new TrustDomain(values.trustDomain, values.controlNamespace);
  const identity = td.identity({ namespace: values.controlNamespace, serviceAccount: o.serviceAccount });
  const identityName = o.identityName ?? td.identity({ namespace: values.controlNamespace, serviceAccount: componentName('identity') });
  const anchorsPem = readOptionFile('--trust-anchors', 'LANYARD_INJECTOR_TRUST_ANCHORS', o.trustAnchors);
  try {
    bundleFingerprint(anchorsPem);
  } catch (e) {
    throw new UsageError(`--trust-anchors (env LANYARD_INJECTOR_TRUST_ANCHORS): ${o.trustAnchors}: ${(e as Error).message}`);
  }
  let injectConfig = injectConfigFrom(values, bundleFingerprint(anchorsPem));
  const clientFor = (pem: string) => new CertifyClient({ address: identityAddr, serverName: identityName, trustAnchorsPem: pem });

  let server: InjectorServer | null = null;
  const expiry = new Gauge({ name: 'lanyard_injector_certificate_expiry_timestamp_seconds', help: "NotAfter of the webhook's serving certificate (Unix seconds)", registers: [registry] });
  let certifyClient = clientFor(anchorsPem);
  const certificate = new CertifiedServingCertificate({
    client: certifyClient,
    identity,
    extraDnsNames: [injectorServiceName(values.controlNamespace)],
    tokenFile: o.tokenFile,
    trustAnchorsPem: anchorsPem,
    logger,
    onCertificate: (pair) => {
      expiry.set(pair.notAfter.getTime() / 1000);
      server?.updateCertificate(pair);
    },
  });
  const anchorsFile = new TrustAnchorsFile(
    {
      file: o.trustAnchors,
      logger,
      onChange: (pem) => {
        // New pods get the new bundle's fingerprint; Certify is verified against the new anchors.
        injectConfig = injectConfigFrom(values, bundleFingerprint(pem));
        const old = certifyClient;
        certifyClient = clientFor(pem);
        certificate.setTrustAnchors(pem, certifyClient);
        old.close();
      },
    },
    anchorsPem,
  );
  const admin = new AdminServer({
    host: adminAddr.host,
    port: adminAddr.port,
    registry,
    ready: () => (certificate.certificate && certificate.certificate.notAfter.getTime() > Date.now() ? { ready: true } : { ready: false, reason: certificate.failure ?? 'no certificate' }),
  });
  const adminInfo = await admin.start();
  anchorsFile.start();
  certificate.start();
  logger.info({ identity, names: [injectorServiceName(values.controlNamespace)], identity_addr: identityAddr }, 'waiting for the serving certificate');
  await certificate.ready;

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
  const info = await server.start(certificate.certificate!);
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    certificate.stop();
    anchorsFile.stop();
    certifyClient.close();
    void Promise.all([server!.close(), admin.close()]).then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  logger.info({ addr: formatAddress({ host: addr.host, port: info.port }), admin: formatAddress({ host: adminAddr.host, port: adminInfo.port }), image: injectConfig.image }, 'injector listening');
}
