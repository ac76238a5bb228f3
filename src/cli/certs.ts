/**
 * `lanyard certs ...`: the operator's PKI tooling. This file only maps options to the
 * certs/ modules and prints their results; every decision lives there.
 *
 * Output: results on stdout, notes and warnings on stderr. Exit codes: 0 done, 1 the command
 * was refused (bad option, unreadable file, existing output without --force), 2 `inspect`
 * found a problem (expired certificate, failed chain check).
 */
import { Command, Option } from 'commander';
import {
  addToBundleFile,
  readBundleFile,
  removeFromBundleFile,
  summarizeAnchors,
  type BundleChange,
} from '../../certs/bundle.js';
import {
  DEFAULT_ANCHOR_VALIDITY_MS,
  DEFAULT_ISSUER_VALIDITY_MS,
  resolveOutputPaths,
  writeAnchorFiles,
  writeIssuerFiles,
  type CaFilesResult,
} from '../../certs/ca-files.js';
import type { Curve } from '../../certs/ca.js';
import { describeRemaining, isoTime } from '../../certs/format.js';
import { inspectFile } from '../../certs/inspect.js';
import { formatInspectReport } from '../../certs/inspect-text.js';
import { subjectOf } from '../../certs/x509-facts.js';
import { isDnsLabel, isDnsName } from '../pki/names.js';
import { formatDuration, parseDuration } from './parse.js';

/** Exit code of `inspect` when it read the file but found it wanting. */
export const EXIT_INSPECT_PROBLEM = 2;

export function registerCerts(program: Command): void {
  const certs = program
    .command('certs')
    .description('create trust anchors and issuers, edit trust bundles, inspect certificates')
    .addHelpText(
      'after',
      `
A trust anchor (root CA) is what every proxy trusts; an issuer (intermediate CA, signed by
the anchor) is what the identity service signs workload certificates with. Keep the
anchor's key offline; the issuer is rotated, typically yearly.

Examples:
  $ lanyard certs create-anchor --out-dir pki
  $ lanyard certs create-issuer --ca-cert pki/ca.crt --ca-key pki/ca.key --out-dir pki
  $ lanyard certs inspect pki/issuer.crt --bundle pki/ca.crt
  $ lanyard certs bundle add --bundle trust-bundle.pem new-ca.crt`,
    );
  registerCreateAnchor(certs);
  registerCreateIssuer(certs);
  registerBundle(certs);
  registerInspect(certs);
}

interface CreateOptions {
  outDir?: string;
  cert?: string;
  key?: string;
  cn?: string;
  trustDomain: string;
  controlNamespace: string;
  curve: Curve;
  validity: string;
  force?: boolean;
}

function addCreateOptions(cmd: Command, files: string, validity: number): Command {
  return cmd
    .option('--out-dir <dir>', `directory to write ${files} into (default: the current directory)`)
    .option('--cert <file>', 'write the certificate to this file instead (requires --key)')
    .option('--key <file>', 'write the private key to this file instead (requires --cert)')
    .option('--trust-domain <domain>', 'trust domain, used in the default --cn', 'cluster.local')
    .option('--control-namespace <ns>', 'control-plane namespace, used in the default --cn', 'lanyard')
    .addOption(new Option('--curve <curve>', 'ECDSA curve of the new key').choices(['P-256', 'P-384']).default('P-256'))
    .option('--validity <duration>', 'lifetime, e.g. 8760h, 365d, 90m', formatDuration(validity))
    .option('--force', 'overwrite existing files');
}

function registerCreateAnchor(certs: Command): void {
  const cmd = certs
    .command('create-anchor')
    .description('create a self-signed trust anchor (root CA): ca.crt (0644) and ca.key (0600)')
    .option('--cn <name>', 'subject common name (default: root.<control-namespace>.<trust-domain>)');
  addCreateOptions(cmd, 'ca.crt and ca.key', DEFAULT_ANCHOR_VALIDITY_MS)
    .addHelpText(
      'after',
      `
Existing files are never overwritten without --force; nothing is written if any exists.

Examples:
  $ lanyard certs create-anchor                                 # ./ca.crt, ./ca.key, CN root.lanyard.cluster.local
  $ lanyard certs create-anchor --out-dir pki --trust-domain prod.example
  $ lanyard certs create-anchor --cert root.pem --key root-key.pem --curve P-384 --validity 175200h`,
    )
    .action(async (o: CreateOptions) => {
      const result = await writeAnchorFiles({
        paths: resolveOutputPaths(o, { cert: 'ca.crt', key: 'ca.key' }),
        commonName: o.cn ?? `root.${controlPlaneSuffix(o)}`,
        curve: o.curve,
        validityMs: parseDuration(o.validity, '--validity'),
        force: o.force,
      });
      const [cert, key] = result.files;
      printCreated('trust anchor', result);
      process.stdout.write(`\nNext: lanyard certs create-issuer --ca-cert ${cert.path} --ca-key ${key.path}\n`);
    });
}

interface IssuerOptions extends CreateOptions {
  caCert: string;
  caKey: string;
  k8sSecretLayout?: boolean;
}

function registerCreateIssuer(certs: Command): void {
  const cmd = certs
    .command('create-issuer')
    .description('create an issuer (intermediate CA, path length 0) signed by a trust anchor: issuer.crt and issuer.key')
    .requiredOption('--ca-cert <file>', 'the signing CA certificate (the trust anchor), PEM or DER')
    .requiredOption('--ca-key <file>', 'the signing CA private key')
    .option('--cn <name>', 'subject common name (default: identity.<control-namespace>.<trust-domain>)')
    .option('--k8s-secret-layout', 'write tls.crt, tls.key and ca.crt into --out-dir, as a kubernetes.io/tls Secret holds them');
  addCreateOptions(cmd, 'issuer.crt and issuer.key', DEFAULT_ISSUER_VALIDITY_MS)
    .addHelpText(
      'after',
      `
The CA must be a valid CA certificate that may sign CAs, and --ca-key must be its key.
The issuer's lifetime is clamped to the CA's NotAfter.

Examples:
  $ lanyard certs create-issuer --ca-cert ca.crt --ca-key ca.key
  $ lanyard certs create-issuer --ca-cert ca.crt --ca-key ca.key --out-dir issuer --k8s-secret-layout
  $ kubectl -n lanyard create secret generic lanyard-identity-issuer --type=kubernetes.io/tls --from-file=issuer/`,
    )
    .action(async (o: IssuerOptions) => {
      const result = await writeIssuerFiles({
        caCertPath: o.caCert,
        caKeyPath: o.caKey,
        paths: resolveOutputPaths(o, { cert: 'issuer.crt', key: 'issuer.key' }),
        commonName: o.cn ?? `identity.${controlPlaneSuffix(o)}`,
        curve: o.curve,
        validityMs: parseDuration(o.validity, '--validity'),
        force: o.force,
      });
      printCreated('issuer', result);
    });
}

/** `<control-ns>.<trust-domain>`, the tail of the default CA names (Linkerd's `linkerd.cluster.local`). */
function controlPlaneSuffix(o: CreateOptions): string {
  if (!isDnsName(o.trustDomain)) throw new Error(`--trust-domain: expected a DNS name of lower-case labels, got ${JSON.stringify(o.trustDomain)}`);
  if (!isDnsLabel(o.controlNamespace)) throw new Error(`--control-namespace: expected a DNS-1123 label, got ${JSON.stringify(o.controlNamespace)}`);
  return `${o.controlNamespace}.${o.trustDomain}`;
}

function printCreated(what: string, r: CaFilesResult): void {
  const c = r.certificate;
  const lines = [
    `Created ${what} ${subjectOf(c)}`,
    ...r.files.map((f) => `  ${f.path}  ${f.contents}, mode ${f.mode.toString(8).padStart(4, '0')}`),
    `  Not after  ${isoTime(c.validTo)} (${describeRemaining(c.validFrom, c.validTo, new Date())})`,
    `  SHA-256    ${c.fingerprint256}`,
  ];
  process.stdout.write(lines.join('\n') + '\n');
  for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
}

function registerBundle(certs: Command): void {
  const bundle = certs
    .command('bundle')
    .description('add, remove and list the anchors of a trust bundle (one PEM file of CA certificates)')
    .addHelpText(
      'after',
      `
Anchor rotation without restarting pods:
  $ lanyard certs create-anchor --out-dir new
  $ lanyard certs bundle add --bundle trust-bundle.pem new/ca.crt      # 1. proxies trust old + new
  $ lanyard certs create-issuer --ca-cert new/ca.crt --ca-key new/ca.key --out-dir new
      ... roll the new issuer out, wait until every workload certificate has been renewed ...
  $ lanyard certs bundle remove --bundle trust-bundle.pem old/ca.crt   # 3. drop the old anchor`,
    );

  bundle
    .command('add')
    .description('add CA certificates to a bundle (created if missing); duplicates are skipped, order is kept')
    .requiredOption('--bundle <file>', 'the trust bundle PEM file')
    .argument('<cert...>', 'certificate files (PEM or DER) holding CA certificates')
    .addHelpText('after', '\nExample:\n  $ lanyard certs bundle add --bundle trust-bundle.pem new/ca.crt')
    .action((certPaths: string[], o: { bundle: string }) => {
      const change = addToBundleFile(o.bundle, certPaths);
      for (const a of change.added) out(`added    ${a.fingerprint256}  ${subjectOf(a)}`);
      for (const a of change.alreadyPresent) out(`present  ${a.fingerprint256}  ${subjectOf(a)} (already in the bundle)`);
      printBundleTotal(o.bundle, change);
    });

  bundle
    .command('remove')
    .description('remove anchors from a bundle, by SHA-256 fingerprint or by certificate file')
    .requiredOption('--bundle <file>', 'the trust bundle PEM file')
    .option('--fingerprint <sha256>', 'SHA-256 fingerprint of an anchor to remove (repeatable; as `bundle list` prints it)', collect, [])
    .option('--allow-empty', 'allow removing the last anchor (proxies will then trust no one)')
    .argument('[cert...]', 'certificate files of the anchors to remove')
    .addHelpText(
      'after',
      `
Examples:
  $ lanyard certs bundle remove --bundle trust-bundle.pem old/ca.crt
  $ lanyard certs bundle remove --bundle trust-bundle.pem --fingerprint 3F:A1:...:9C`,
    )
    .action((certPaths: string[], o: { bundle: string; fingerprint: string[]; allowEmpty?: boolean }) => {
      const change = removeFromBundleFile(o.bundle, { fingerprints: o.fingerprint, certPaths }, { allowEmpty: o.allowEmpty });
      for (const a of change.removed) out(`removed  ${a.fingerprint256}  ${subjectOf(a)}`);
      printBundleTotal(o.bundle, change);
    });

  bundle
    .command('list')
    .description('list the anchors of a bundle with their fingerprints and expiry')
    .requiredOption('--bundle <file>', 'the trust bundle PEM file')
    .option('--json', 'print JSON for scripts')
    .addHelpText('after', '\nExample:\n  $ lanyard certs bundle list --bundle trust-bundle.pem --json | jq -r ".[].fingerprintSha256"')
    .action((o: { bundle: string; json?: boolean }) => {
      const now = new Date();
      const anchors = summarizeAnchors(readBundleFile(o.bundle), now);
      if (o.json) return out(JSON.stringify(anchors, null, 2));
      if (!anchors.length) return out(`${o.bundle}: empty bundle (proxies trust no one)`);
      for (const a of anchors) {
        out(`${a.index}. ${a.subject}${a.selfSigned ? '' : ' (not self-signed)'}`);
        out(`   SHA-256    ${a.fingerprintSha256}`);
        out(`   Not after  ${a.notAfter} (${describeRemaining(a.notBefore, a.notAfter, now)})`);
      }
    });
}

function printBundleTotal(path: string, change: BundleChange): void {
  for (const n of change.notes) process.stderr.write(`warning: ${n}\n`);
  const changed = change.added.length + change.removed.length > 0;
  out(`${path}: ${change.anchors.length} anchor${change.anchors.length === 1 ? '' : 's'}${changed ? '' : ' (unchanged)'}`);
}

function registerInspect(certs: Command): void {
  certs
    .command('inspect')
    .description('show what a certificate, chain, CSR or key file holds (keys are described, never printed)')
    .argument('<file>', 'PEM or DER file')
    .option('--bundle <file>', 'also check that the certificates in FILE chain to an anchor of this trust bundle')
    .option('--json', 'print JSON for scripts')
    .addHelpText(
      'after',
      `
Exit status: 0 all good; 1 the file could not be read; 2 a certificate is expired or not
yet valid, a CSR signature does not verify, or the chain check failed.

Examples:
  $ lanyard certs inspect issuer.crt --bundle ca.crt
  $ lanyard certs inspect tls.key
  $ lanyard certs inspect issuer.crt --json | jq .certificates[0].notAfter`,
    )
    .action(async (file: string, o: { bundle?: string; json?: boolean }) => {
      const report = await inspectFile(file, { bundlePath: o.bundle });
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : formatInspectReport(report));
      if (!report.ok) process.exitCode = EXIT_INSPECT_PROBLEM;
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function out(line: string): void {
  process.stdout.write(line + '\n');
}
