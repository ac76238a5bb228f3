/**
 * `lanyard install`: prints the control plane's manifests (YAML, or a JSON List with
 * `--output json`). Rendering never contacts a cluster.
 */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { CertsError } from '../../certs/errors.js';
import { InstallPkiError, loadOrCreateInstallPki } from '../../certs/install-pki.js';
import { installManifests } from '../install/install-manifests.js';
import { renderJson, renderYaml } from '../install/manifest.js';
import { UsageError } from './cli-conventions.js';
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
  replicas?: string;
  identityLifetime?: string;
  identityValidator?: string;
  injectorFailurePolicy?: string;
}

/** Flags that set one value each (besides --values and --set). */
const VALUE_FLAGS: [keyof InstallOptions, string, string[]][] = [
  ['registry', '--registry <registry>', ['image.registry']],
  ['imageTag', '--image-tag <tag>', ['image.tag']],
  ['trustDomain', '--trust-domain <domain>', ['trustDomain']],
  ['clusterDomain', '--cluster-domain <domain>', ['clusterDomain']],
  ['replicas', '--replicas <n>', ['identity.replicas', 'discovery.replicas', 'injector.replicas']],
  ['identityLifetime', '--identity-lifetime <duration>', ['identity.lifetime']],
  ['identityValidator', '--identity-validator <kind>', ['identity.validator']],
  ['injectorFailurePolicy', '--injector-failure-policy <policy>', ['injector.failurePolicy']],
];

export function registerInstall(program: Command): void {
  const cmd = program
    .command('install')
    .description('Print the control plane manifests (namespace, RBAC, PKI, identity, discovery, injector, webhook) for kubectl apply.')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .option('--ha', 'high availability: 3 replicas of each component and PodDisruptionBudgets')
    .option('--identity-trust-anchors-file <file>', 'trust bundle (PEM): the anchors every proxy trusts')
    .option('--identity-issuer-certificate-file <file>', 'issuer certificate (PEM), signed by an anchor')
    .option('--identity-issuer-key-file <file>', "the issuer's private key (PEM)")
    .option('--pki-dir <dir>', 'without the three files: create a new anchor and issuer here (or reuse the ones an earlier run created)', 'lanyard-pki')
    .option('--ignore-cluster', 'render without contacting a cluster (the default; nothing is ever contacted)', true);
  for (const [, flags, keys] of VALUE_FLAGS) cmd.option(flags, `sets ${keys.join(', ')}`);
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
  const overrides = VALUE_FLAGS.flatMap(([key, flags, keys]) => keys.map((k) => ({ flag: flags.split(' ')[0], key: k, value: o[key] as string | undefined })));
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
