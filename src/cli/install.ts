/**
 * `lanyard install`: prints the control plane's manifests (YAML, or a JSON List with
 * `--output json`). Rendering never contacts a cluster.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { CertsError } from '../../certs/errors.js';
import { InstallPkiError, loadOrCreateInstallPki } from '../../certs/install-pki.js';
import { installManifests } from '../install/install-manifests.js';
import { renderJson, renderYaml } from '../install/manifest.js';
import { UsageError } from './cli-conventions.js';
import { choiceOption, durationOption, flagOption, integerOption, pathOption, textOption } from './cli-options.js';
import { formatDuration } from '../util/duration.js';
import type { Option } from 'commander';
import { addValuesOptions, valuesFrom, type ValuesFlags } from './values-options.js';

interface InstallOptions extends ValuesFlags {
  output: 'yaml' | 'json';
  identityTrustAnchorsFile?: string;
  identityIssuerCertificateFile?: string;
  identityIssuerKeyFile?: string;
  pkiDir: string;
  ignoreCluster: boolean;
  registry?: string;
  imageTag?: string;
  trustDomain?: string;
  clusterDomain?: string;
  replicas?: number;
  identityLifetime?: number;
  identityValidator?: string;
  injectorFailurePolicy?: string;
}

/** Flags that set one value each (besides --values and --set): option, attribute, keys. */
const VALUE_FLAGS: [() => Option, keyof InstallOptions, string[]][] = [
  [() => textOption('--registry <registry>', 'image registry (sets image.registry)'), 'registry', ['image.registry']],
  [() => textOption('--image-tag <tag>', 'image tag (sets image.tag)'), 'imageTag', ['image.tag']],
  [() => textOption('--trust-domain <domain>', 'trust domain (sets trustDomain)'), 'trustDomain', ['trustDomain']],
  [() => textOption('--cluster-domain <domain>', "the cluster's DNS domain (sets clusterDomain)"), 'clusterDomain', ['clusterDomain']],
  [() => integerOption('--replicas <n>', 'replicas of every component (sets identity/discovery/injector.replicas)', { min: 1, max: 100 }), 'replicas', ['identity.replicas', 'discovery.replicas', 'injector.replicas']],
  [() => durationOption('--identity-lifetime <duration>', 'leaf certificate lifetime (sets identity.lifetime)', { min: 10_000 }), 'identityLifetime', ['identity.lifetime']],
  [() => choiceOption('--identity-validator <kind>', 'token validator in the cluster (sets identity.validator)', ['kubernetes', 'jwks'] as const), 'identityValidator', ['identity.validator']],
  [() => choiceOption('--injector-failure-policy <policy>', "the webhook's failurePolicy (sets injector.failurePolicy)", ['Ignore', 'Fail'] as const), 'injectorFailurePolicy', ['injector.failurePolicy']],
];

export function registerInstall(program: Command): void {
  const cmd = program
    .command('install')
    .description('print the control plane manifests (namespace, RBAC, PKI, identity, discovery, injector, webhook) for kubectl apply')
    .addOption(choiceOption('-o, --output <format>', 'output format', ['yaml', 'json'] as const, { default: 'yaml' }))
    .addOption(flagOption('--ha', 'high availability: 3 replicas of each component and PodDisruptionBudgets'))
    .addOption(pathOption('--identity-trust-anchors-file <file>', 'trust bundle (PEM): the anchors every proxy trusts'))
    .addOption(pathOption('--identity-issuer-certificate-file <file>', 'issuer certificate (PEM), signed by an anchor'))
    .addOption(pathOption('--identity-issuer-key-file <file>', "the issuer's private key (PEM)"))
    .addOption(pathOption('--pki-dir <dir>', 'without the three files: create a new anchor and issuer here (or reuse the ones an earlier run created)', { default: 'lanyard-pki' }))
    .addOption(flagOption('--ignore-cluster', 'render without contacting a cluster (the default: nothing is ever contacted)').default(true));
  for (const [option] of VALUE_FLAGS) cmd.addOption(option());
  addValuesOptions(cmd).addHelpText(
    'after',
    `
Values: defaults, then --values files, then --set, then the flags above. Keys:
  ${['image.registry image.tag image.pullPolicy trustDomain clusterDomain controlNamespace ha', 'identity.{replicas,lifetime,validator,jwksUrl,tokenIssuer,audience,resources.*}', 'discovery.{replicas,resources.*} injector.{replicas,failurePolicy,timeoutSeconds,resources.*}', 'proxy.{logLevel,tokenExpiration,nativeSidecar,resources.*} proxyInit.resources.*'].join('\n  ')}

Examples:
  lanyard install | kubectl apply -f -
  lanyard install --ha --identity-trust-anchors-file ca.crt \\
      --identity-issuer-certificate-file issuer.crt --identity-issuer-key-file issuer.key
  lanyard install --set image.tag=v0.1.0 --set identity.lifetime=12h -o json`,
  );
  cmd.action((o: InstallOptions) => runInstall(o));
}

async function runInstall(o: InstallOptions): Promise<void> {
  const text = (key: keyof InstallOptions): string | undefined => {
    const v = o[key];
    if (v === undefined) return undefined;
    return key === 'identityLifetime' ? formatDuration(v as number) : String(v);
  };
  const overrides = VALUE_FLAGS.flatMap(([option, key, keys]) => keys.map((k) => ({ flag: option().long!, key: k, value: text(key) })));
  const values = valuesFrom(o, overrides);
  let pki;
  try {
    pki = await loadOrCreateInstallPki({
      trustAnchorsFile: o.identityTrustAnchorsFile,
      issuerCertificateFile: o.identityIssuerCertificateFile,
      issuerKeyFile: o.identityIssuerKeyFile,
      generateDir: resolve(o.pkiDir),
      trustDomain: values.trustDomain,
      controlNamespace: values.controlNamespace,
    });
  } catch (e) {
    if (e instanceof InstallPkiError || e instanceof CertsError) throw new UsageError((e as Error).message);
    throw e;
  }
  if (pki.generated) {
    process.stderr.write(
      `warning: generated a new trust anchor and issuer in ${pki.generated.dir}\n` +
        `warning: keep the anchor key ${pki.generated.anchorKey} (mode 0600) offline: move it off this machine once the issuer is made;\n` +
        `         it is needed only to sign the next issuer. Re-running install reuses ${pki.generated.dir}.\n`,
    );
  } else if (pki.reused) process.stderr.write(`note: using the PKI generated earlier in ${pki.reused}\n`);
  const manifests = installManifests(values, pki);
  process.stdout.write(o.output === 'json' ? renderJson(manifests) : renderYaml(manifests));
}
