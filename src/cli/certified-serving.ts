/**
 * The serving certificate of a control-plane component that certifies like a workload (the
 * injector, discovery): the flags it is configured with, and the wiring of its parts. A
 * Certify client to the identity service, verified against the mounted trust bundle;
 * CertifiedServingCertificate renewing the certificate and handing each one to the server;
 * the bundle file reloaded live through the shared reloader (a new bundle means a new client
 * and an immediate renewal); the NotAfter exported as a gauge; /ready false while no valid
 * certificate is held. One place, so every component keeps the same promise the same way.
 */
import type { Command } from 'commander';
import { CertifyClient } from '../../proxy/identity/certify-client.js';
import { TrustAnchorsFile } from '../../proxy/trust-anchors-file.js';
import { componentName, PATHS, TOKEN_FILE, type Component } from '../inject/mesh-names.js';
import { bundleFingerprint } from '../pki/bundle-fingerprint.js';
import { isDnsLabel, isDnsName, type TrustDomain } from '../pki/names.js';
import { CertifiedServingCertificate, type ServingKeyPair } from '../serving/certified-serving-certificate.js';
import type { ReadyState } from '../telemetry/admin-server.js';
import type { Logger } from '../telemetry/logger.js';
import { Gauge, type Registry } from '../telemetry/metrics.js';
import { formatAddress, type HostPort } from '../util/address.js';
import { quote } from '../util/value-error.js';
import { UsageError } from './cli-conventions.js';
import { addressOption, pathOption, readOptionFile, textOption } from './cli-options.js';

/** The options addCertifyOptions adds, as commander parses them. */
export interface CertifyFlags {
  identityAddr: HostPort;
  identityName?: string;
  trustAnchors?: string;
  tokenFile: string;
  serviceAccount: string;
}

/** `LANYARD_INJECTOR`, `LANYARD_DISCOVERY`: the prefix of a component's variables. */
const envPrefix = (c: Component) => `LANYARD_${c.toUpperCase()}`;

/**
 * `--identity-addr`, `--identity-name`, `--trust-anchors`, `--token-file` and
 * `--service-account`, each with its `LANYARD_<COMPONENT>_*` variable. `anchorsNote` says
 * when the bundle is required.
 */
export function addCertifyOptions(cmd: Command, c: Component, anchorsNote: string): Command {
  const env = (name: string) => `${envPrefix(c)}_${name}`;
  return cmd
    .addOption(addressOption('--identity-addr <host:port>', 'identity service, where the serving certificate comes from', 'dial', { env: env('IDENTITY_ADDR'), default: 'lanyard-identity.lanyard.svc.cluster.local:8080' }))
    .addOption(textOption('--identity-name <name>', "the identity service's identity (default lanyard-identity.<ns>.serviceaccount.identity.<ns>.<td>)", { env: env('IDENTITY_NAME') }))
    .addOption(pathOption('--trust-anchors <file>', `trust bundle file (the mounted ConfigMap), reloaded when it changes; ${anchorsNote}`, { env: env('TRUST_ANCHORS') }))
    .addOption(pathOption('--token-file <file>', 'projected service-account token presented to Certify', { env: env('TOKEN_FILE'), default: `${PATHS.tokenDir}/${TOKEN_FILE}` }))
    .addOption(textOption('--service-account <name>', `the ${c}'s own service account (its identity)`, { env: env('SERVICE_ACCOUNT'), default: componentName(c) }));
}

/**
 * The bundle --trust-anchors names, read and checked at start-up: missing, unreadable or
 * holding no CA certificate is a usage error naming the flag. `required` says why it is needed.
 */
export function readTrustAnchorsFlag(c: Component, path: string | undefined, required: string): string {
  const env = `${envPrefix(c)}_TRUST_ANCHORS`;
  if (!path) throw new UsageError(`--trust-anchors (env ${env}): required ${required}`);
  const pem = readOptionFile('--trust-anchors', env, path);
  try {
    bundleFingerprint(pem);
  } catch (e) {
    throw new UsageError(`--trust-anchors (env ${env}): ${path}: ${(e as Error).message}`);
  }
  return pem;
}

export interface CertifiedServingConfig {
  component: Component;
  flags: CertifyFlags;
  /** What the bundle came from; the component's identity is in its control namespace. */
  trustDomain: TrustDomain;
  /** The bundle as read by readTrustAnchorsFlag. */
  anchorsPem: string;
  /** Names after the identity (the injector's Service name). Default none. */
  extraDnsNames?: readonly string[];
  registry: Registry;
  logger: Logger;
  /** Each new certificate, to swap into the running server. */
  onCertificate: (pair: ServingKeyPair) => void;
  /** A new bundle from the file (after the Certify client follows it). */
  onTrustAnchors?: (pem: string) => void;
}

export class CertifiedServing {
  readonly identity: string;
  readonly certificate: CertifiedServingCertificate;
  private client: CertifyClient;
  private readonly anchorsFile: TrustAnchorsFile;
  private readonly identityAddr: string;

  constructor(private readonly cfg: CertifiedServingConfig) {
    const { flags, trustDomain: td, component: c } = cfg;
    const env = envPrefix(c);
    // The token is read on every renewal; a mount that is not there at all is a mistake to report now.
    readOptionFile('--token-file', `${env}_TOKEN_FILE`, flags.tokenFile);
    this.identity = checkedIdentity(td, flags.serviceAccount, `--service-account (env ${env}_SERVICE_ACCOUNT)`);
    const identityName = flags.identityName ?? td.identity({ namespace: td.controlNamespace, serviceAccount: componentName('identity') });
    if (!isDnsName(identityName)) throw new UsageError(`--identity-name (env ${env}_IDENTITY_NAME): ${quote(identityName)} is not a DNS name`);
    this.identityAddr = formatAddress(flags.identityAddr);
    const clientFor = (pem: string) => new CertifyClient({ address: this.identityAddr, serverName: identityName, trustAnchorsPem: pem });
    this.client = clientFor(cfg.anchorsPem);
    const expiry = new Gauge({ name: `lanyard_${c}_certificate_expiry_timestamp_seconds`, help: `NotAfter of the ${c}'s serving certificate (Unix seconds)`, registers: [cfg.registry] });
    this.certificate = new CertifiedServingCertificate({
      client: this.client,
      identity: this.identity,
      extraDnsNames: cfg.extraDnsNames ?? [],
      tokenFile: flags.tokenFile,
      trustAnchorsPem: cfg.anchorsPem,
      logger: cfg.logger,
      onCertificate: (pair) => {
        expiry.set(pair.notAfter.getTime() / 1000);
        cfg.onCertificate(pair);
      },
    });
    this.anchorsFile = new TrustAnchorsFile(
      {
        file: flags.trustAnchors!,
        logger: cfg.logger,
        onChange: (pem) => {
          // Certify is verified against the new anchors, and the certificate renewed under them.
          const old = this.client;
          this.client = clientFor(pem);
          this.certificate.setTrustAnchors(pem, this.client);
          old.close();
          cfg.onTrustAnchors?.(pem);
        },
      },
      cfg.anchorsPem,
    );
  }

  /** Resolves once a first certificate has been handed to onCertificate. */
  get ready(): Promise<void> {
    return this.certificate.ready;
  }

  start(): void {
    this.anchorsFile.start();
    this.certificate.start();
    this.cfg.logger.info({ identity: this.identity, names: this.cfg.extraDnsNames ?? [], identity_addr: this.identityAddr }, 'waiting for the serving certificate');
  }

  /** Ready while a certificate is held that has not expired. */
  readiness(): ReadyState {
    const c = this.certificate.certificate;
    return c && c.notAfter.getTime() > Date.now() ? { ready: true } : { ready: false, reason: this.certificate.failure ?? 'no certificate' };
  }

  stop(): void {
    this.certificate.stop();
    this.anchorsFile.stop();
    this.client.close();
  }
}

function checkedIdentity(td: TrustDomain, serviceAccount: string, source: string): string {
  const identity = td.identity({ namespace: td.controlNamespace, serviceAccount });
  if (!isDnsLabel(serviceAccount) || !isDnsName(identity)) throw new UsageError(`${source}: ${quote(serviceAccount)} is not a service-account name (a DNS-1123 label)`);
  return identity;
}
