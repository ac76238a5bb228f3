/**
 * `lanyard certs rotate anchor|issuer`: the rotation procedures as commands. Options map to
 * certs/rotate (the state model, the steps, the targets); this file picks the target (files
 * or the cluster) and the proxy finder, and prints. Exit status: 0 the steps run are done
 * (or already were); 1 a step is waiting or refused (the report says what is missing);
 * 2 a usage error.
 */
import { Option, type Command } from 'commander';
import { normalizeFingerprint } from '../../certs/bundle.js';
import type { Curve } from '../../certs/ca.js';
import { DEFAULT_ISSUER_VALIDITY_MS } from '../../certs/ca-files.js';
import { loadCertificates } from '../../certs/pem-files.js';
import { FilesTarget } from '../../certs/rotate/files-target.js';
import { StaticProxies, type IdentityTarget, type ProxyFinder } from '../../certs/rotate/observe.js';
import { formatRotation, rotationExitStatus } from '../../certs/rotate/rotation-report.js';
import { RotationRunner, type RotationConfig } from '../../certs/rotate/rotation-runner.js';
import { ANCHOR_STEPS, ISSUER_STEPS, type StepName } from '../../certs/rotate/rotation-state.js';
import { formatAddress } from '../util/address.js';
import { formatDuration } from '../util/duration.js';
import { outputOption, printResult, setKind, UsageError } from './cli-conventions.js';
import { choiceOption, durationOption, flagOption, pathOption, textOption } from './cli-options.js';
import { certsAction } from './certs-errors.js';
import { addMeshOptions, identityNameOf, kubeconfigFlag, type MeshOptions } from './mesh-options.js';
import { clusterRotation, type ClusterRotation } from './certs-rotate-cluster.js';

export interface RotateOptions extends MeshOptions {
  issuer?: string;
  trustAnchors?: string;
  newAnchor?: string;
  oldAnchor?: string[];
  caCert?: string;
  caKey?: string;
  newIssuerCert?: string;
  newIssuerKey?: string;
  csr?: boolean;
  outDir?: string;
  proxies: boolean;
  step?: StepName;
  wait: number;
  pollInterval: number;
  cn?: string;
  curve: Curve;
  validity: number;
  force?: boolean;
  output: string;
}

export function registerRotate(certs: Command): void {
  const rotate = certs
    .command('rotate')
    .description('rotate the issuer or the trust anchor step by step, checking each step against what the proxies report')
    .addHelpText('after', '\nThe steps, their preconditions and what to do when a certificate has already expired: README, "Rotating the issuer" and "Rotating the trust anchor".');
  registerAnchor(rotate);
  registerIssuer(rotate);
}

function registerAnchor(rotate: Command): void {
  const cmd = rotate
    .command('anchor')
    .description('trust-anchor rotation: add-anchor, wait-anchor, move-issuer, wait-issuer, remove-anchor')
    .addOption(pathOption('--new-anchor <file>', 'the new trust anchor certificate (its key may stay offline)').makeOptionMandatory())
    .addOption(oldAnchorOption())
    .addOption(pathOption('--ca-key <file>', "the new anchor's key, to create the new issuer here (else bring one, or use --csr)"))
    .addOption(pathOption('--ca-cert <file>', 'the CA that signs the new issuer (default: --new-anchor)'));
  addCommon(cmd, ANCHOR_STEPS).addHelpText(
    'after',
    `
Each step checks its precondition and refuses, saying what is missing, when it does not
hold; --wait waits for what only needs time (proxies reloading the bundle, renewing their
certificates). Re-running resumes where the observed state says the rotation stands.

Examples:
  $ lanyard certs create-anchor --out-dir new
  $ lanyard certs rotate anchor --new-anchor new/ca.crt --ca-key new/ca.key --out-dir new \\
      --issuer /etc/lanyard/issuer --trust-anchors /etc/lanyard/ca-bundle.crt --proxy 10.0.0.7:4191 --wait 10m
  $ lanyard certs rotate anchor --kubernetes --new-anchor new/ca.crt --ca-key new/ca.key --out-dir new --step add-anchor`,
  );
  cmd.action((o: RotateOptions, command: Command) => certsAction(() => runRotate('anchor', o, command)));
}

function registerIssuer(rotate: Command): void {
  const cmd = rotate
    .command('issuer')
    .description('issuer rotation under the same anchor: move-issuer, wait-issuer')
    .addOption(pathOption('--ca-cert <file>', 'the anchor that signs the new issuer'))
    .addOption(pathOption('--ca-key <file>', "the anchor's key, to create the new issuer here (else bring one, or use --csr)"));
  addCommon(cmd, ISSUER_STEPS).addHelpText(
    'after',
    `
Examples:
  $ lanyard certs rotate issuer --ca-cert ca.crt --ca-key ca.key --out-dir issuer-2031 \\
      --issuer /etc/lanyard/issuer --proxy 127.0.0.1:4191 --wait 5m
  $ lanyard certs rotate issuer --csr --out-dir issuer-2031 --kubernetes      # writes issuer.key and issuer.csr
      ... sign issuer-2031/issuer.csr where the anchor key is, save issuer-2031/issuer.crt ...
  $ lanyard certs rotate issuer --out-dir issuer-2031 --kubernetes --wait 10m`,
  );
  cmd.action((o: RotateOptions, command: Command) => certsAction(() => runRotate('issuer', o, command)));
}

function addCommon(cmd: Command, steps: readonly StepName[]): Command {
  cmd
    .addOption(pathOption('--issuer <dir>', "the identity service's issuer directory (on files; or --kubernetes)"))
    .addOption(pathOption('--trust-anchors <file>', 'the trust bundle file the identity service and the proxies read (default: ca.crt in --issuer)'))
    .addOption(pathOption('--new-issuer-cert <file>', 'a new issuer the operator brings (with --new-issuer-key)'))
    .addOption(pathOption('--new-issuer-key <file>', "the new issuer's key"))
    .addOption(flagOption('--csr', 'write a key and a CSR for the new issuer to --out-dir, to be signed where the anchor key is kept'))
    .addOption(pathOption('--out-dir <dir>', 'where the new issuer is created (issuer.crt, issuer.key 0600) and found again on the next run'))
    .addOption(flagOption('--no-proxies', 'no proxy runs yet: the wait steps have nothing to wait for'))
    .addOption(choiceOption('--step <step>', 'run only this step', steps))
    .addOption(durationOption('--wait <duration>', 'wait up to this long for a precondition that only needs time', { default: '0' }))
    .addOption(durationOption('--poll-interval <duration>', 'how often to look again while waiting', { default: '2s', min: 100 }))
    .addOption(textOption('--cn <name>', "a created issuer's common name (default: identity.<control-namespace>.<trust-domain>)"))
    .addOption(choiceOption('--curve <curve>', "a created issuer's ECDSA curve", ['P-256', 'P-384'] as const, { default: 'P-256' }))
    .addOption(durationOption('--validity <duration>', "a created issuer's lifetime (clamped to its anchor's)", { default: formatDuration(DEFAULT_ISSUER_VALIDITY_MS), min: 60_000 }))
    .addOption(flagOption('--force', 'overwrite files in --out-dir'));
  return addMeshOptions(cmd).addOption(outputOption());
}

/** `--old-anchor <sha256|file>`, repeatable: the anchors remove-anchor drops. */
function oldAnchorOption(): Option {
  const o = new Option('--old-anchor <sha256|file>', 'an anchor to drop at the end, by fingerprint or certificate file (repeatable; default: the one other anchor)');
  o.argParser((text: string, previous: string[] = []) => [...previous, text]);
  return setKind(o, 'text');
}

async function runRotate(kind: 'anchor' | 'issuer', o: RotateOptions, command: Command): Promise<void> {
  const identityName = identityNameOf(o);
  if (!o.kubernetes === (o.issuer === undefined)) throw new UsageError('pass --issuer DIR (files) or --kubernetes (the cluster), not both and not neither');
  if (o.trustAnchors && o.kubernetes) throw new UsageError('--trust-anchors is for files; on a cluster the bundle is the ConfigMap');
  const where: Omit<ClusterRotation, 'close'> & { close?: () => void } = o.kubernetes
    ? await clusterRotation(o, kubeconfigFlag(o, command))
    : { target: new FilesTarget({ issuerDir: o.issuer!, bundlePath: o.trustAnchors }), proxies: staticProxies(o) };
  const cfg = rotationConfig(kind, o, where, identityName);
  let report;
  try {
    report = await new RotationRunner(cfg).run();
  } finally {
    where.close?.();
  }
  printResult(o.output, report, () => formatRotation(report, 'Run the same command again to resume; --wait waits for proxies, --step runs one step.'));
  process.exitCode = rotationExitStatus(report);
}

export function staticProxies(o: RotateOptions): ProxyFinder {
  if (!o.proxies && o.proxy?.length) throw new UsageError('--no-proxies and --proxy contradict each other');
  return new StaticProxies(o.proxy ?? [], !o.proxies, o.timeout);
}

function rotationConfig(kind: 'anchor' | 'issuer', o: RotateOptions, where: Omit<ClusterRotation, 'close'>, identityName: string): RotationConfig {
  const newAnchor = o.newAnchor ? anchorFrom(o.newAnchor) : undefined;
  const { target, proxies } = where;
  const identity: IdentityTarget | undefined =
    o.identityAddr || o.identityAdminAddr
      ? { address: o.identityAddr && formatAddress(o.identityAddr), adminAddress: o.identityAdminAddr && formatAddress(o.identityAdminAddr), serverName: identityName, timeoutMs: o.timeout }
      : where.identity && { ...where.identity, serverName: identityName };
  return {
    kind,
    newAnchor,
    oldAnchors: o.oldAnchor?.length ? o.oldAnchor.map(oldAnchorFingerprint) : null,
    newIssuer: {
      certPath: o.newIssuerCert,
      keyPath: o.newIssuerKey,
      outDir: o.outDir,
      caCertPath: o.caCert,
      caKeyPath: o.caKey,
      csr: o.csr,
      commonName: o.cn ?? `identity.${o.controlNamespace}.${o.trustDomain}`,
      curve: o.curve,
      validityMs: o.validity,
      force: o.force,
    },
    step: o.step,
    waitMs: o.wait,
    pollMs: o.pollInterval,
    target,
    proxies,
    identity,
    progress: (line) => process.stderr.write(`${line}\n`),
  };
}

function anchorFrom(path: string): { cert: import('node:crypto').X509Certificate; source: string } {
  const certs = loadCertificates(path, '--new-anchor');
  if (certs.length !== 1) throw new UsageError(`--new-anchor: ${path} holds ${certs.length} certificates, expected the one new anchor`);
  if (!certs[0].ca) throw new UsageError(`--new-anchor: ${path} is not a CA certificate`);
  return { cert: certs[0], source: path };
}

/** A fingerprint as typed, or the fingerprint of the certificate in a file. */
function oldAnchorFingerprint(value: string): string {
  try {
    return normalizeFingerprint(value, '--old-anchor');
  } catch {
    return loadCertificates(value, '--old-anchor')[0].fingerprint256;
  }
}
