/**
 * `lanyard certs ...`: the operator's PKI tooling. This file only maps options to the
 * certs/ modules and prints their results; every decision lives there.
 *
 * Output: results on stdout (`-o json` for scripts), notes and warnings on stderr. Exit
 * status (certs-errors.ts): 0 done; 1 refused or found wanting (a CA that cannot sign, an
 * existing file without --force, `inspect` finding an expired certificate or a failed
 * chain check); 2 a usage error (bad option, missing or unreadable file).
 */
import type { X509Certificate } from 'node:crypto';
import { Option, type Command } from 'commander';
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
import { formatDuration } from '../util/duration.js';
import { EXIT_FAILED, outputOption, printResult, UsageError } from './cli-conventions.js';
import { choiceOption, durationOption, pathOption } from './cli-options.js';
import { registerBundle } from './certs-bundle.js';
import { registerRotate } from './certs-rotate.js';
import { certsAction } from './certs-errors.js';

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
  $ lanyard certs bundle add --bundle trust-bundle.pem new-ca.crt
  $ lanyard certs rotate issuer --ca-cert pki/ca.crt --ca-key pki/ca.key --out-dir next --issuer /etc/lanyard/issuer --proxy 127.0.0.1:4191`,
    );
  registerCreateAnchor(certs);
  registerCreateIssuer(certs);
  registerBundle(certs);
  registerInspect(certs);
  registerRotate(certs);
}

interface CreateOptions {
  outDir?: string;
  cert?: string;
  key?: string;
  cn?: string;
  trustDomain: string;
  controlNamespace: string;
  curve: Curve;
  validity: number;
  force?: boolean;
  output: string;
}

function addCreateOptions(cmd: Command, files: string, validity: number): Command {
  return cmd
    .addOption(pathOption('--out-dir <dir>', `directory to write ${files} into (default: the current directory)`))
    .addOption(pathOption('--cert <file>', 'write the certificate to this file instead (requires --key)'))
    .addOption(pathOption('--key <file>', 'write the private key to this file instead (requires --cert)'))
    .option('--trust-domain <domain>', 'trust domain, used in the default --cn', 'cluster.local')
    .option('--control-namespace <ns>', 'control-plane namespace, used in the default --cn', 'lanyard')
    .addOption(choiceOption('--curve <curve>', 'ECDSA curve of the new key', ['P-256', 'P-384'] as const, { default: 'P-256' }))
    .addOption(durationOption('--validity <duration>', 'lifetime, e.g. 8760h, 365d, 90m', { default: formatDuration(validity), min: 60_000 }))
    .option('--force', 'overwrite existing files')
    .addOption(outputOption());
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
Output: the files, expiry and fingerprint (text), or {kind, subject, notBefore, notAfter,
fingerprintSha256, files, notes} (json).

Examples:
  $ lanyard certs create-anchor                                 # ./ca.crt, ./ca.key, CN root.lanyard.cluster.local
  $ lanyard certs create-anchor --out-dir pki --trust-domain prod.example
  $ lanyard certs create-anchor --cert root.pem --key root-key.pem --curve P-384 --validity 175200h`,
    )
    .action((o: CreateOptions) =>
      certsAction(async () => {
        const result = await writeAnchorFiles({
          paths: resolveOutputPaths(o, { cert: 'ca.crt', key: 'ca.key' }),
          commonName: o.cn ?? `root.${controlPlaneSuffix(o)}`,
          curve: o.curve,
          validityMs: o.validity,
          force: o.force,
        });
        const [cert, key] = result.files;
        printCreated(o.output, 'trust-anchor', result, `\nNext: lanyard certs create-issuer --ca-cert ${cert.path} --ca-key ${key.path}`);
      }),
    );
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
    .addOption(pathOption('--ca-cert <file>', 'the signing CA certificate (the trust anchor), PEM or DER').makeOptionMandatory())
    .addOption(pathOption('--ca-key <file>', 'the signing CA private key').makeOptionMandatory())
    .option('--cn <name>', 'subject common name (default: identity.<control-namespace>.<trust-domain>)')
    .option('--k8s-secret-layout', 'write tls.crt, tls.key and ca.crt into --out-dir, as a kubernetes.io/tls Secret holds them');
  addCreateOptions(cmd, 'issuer.crt and issuer.key', DEFAULT_ISSUER_VALIDITY_MS)
    .addHelpText(
      'after',
      `
The CA must be a valid CA certificate that may sign CAs, and --ca-key must be its key.
The issuer's lifetime is clamped to the CA's NotAfter. Output as for create-anchor.

Examples:
  $ lanyard certs create-issuer --ca-cert ca.crt --ca-key ca.key
  $ lanyard certs create-issuer --ca-cert ca.crt --ca-key ca.key --out-dir issuer --k8s-secret-layout
  $ kubectl -n lanyard create secret generic lanyard-identity-issuer --type=kubernetes.io/tls --from-file=issuer/`,
    )
    .action((o: IssuerOptions) =>
      certsAction(async () => {
        const result = await writeIssuerFiles({
          caCertPath: o.caCert,
          caKeyPath: o.caKey,
          paths: resolveOutputPaths(o, { cert: 'issuer.crt', key: 'issuer.key' }),
          commonName: o.cn ?? `identity.${controlPlaneSuffix(o)}`,
          curve: o.curve,
          validityMs: o.validity,
          force: o.force,
        });
        printCreated(o.output, 'issuer', result);
      }),
    );
}

/** `<control-ns>.<trust-domain>`, the tail of the default CA names (Linkerd's `linkerd.cluster.local`). */
function controlPlaneSuffix(o: CreateOptions): string {
  if (!isDnsName(o.trustDomain)) throw new UsageError(`--trust-domain: expected a DNS name of lower-case labels, got ${JSON.stringify(o.trustDomain)}`);
  if (!isDnsLabel(o.controlNamespace)) throw new UsageError(`--control-namespace: expected a DNS-1123 label, got ${JSON.stringify(o.controlNamespace)}`);
  return `${o.controlNamespace}.${o.trustDomain}`;
}

/** A created CA as JSON: where it went and how to recognise it. Never the key itself. */
export function createdJson(kind: string, r: CaFilesResult): unknown {
  const c: X509Certificate = r.certificate;
  return {
    kind,
    subject: subjectOf(c),
    notBefore: isoTime(c.validFrom),
    notAfter: isoTime(c.validTo),
    fingerprintSha256: c.fingerprint256,
    files: r.files.map((f) => ({ path: f.path, contents: f.contents, mode: f.mode.toString(8).padStart(4, '0') })),
    notes: r.notes,
  };
}

function printCreated(format: string, kind: 'trust-anchor' | 'issuer', r: CaFilesResult, next = ''): void {
  const c = r.certificate;
  printResult(format, createdJson(kind, r), () =>
    [
      `Created ${kind === 'issuer' ? 'issuer' : 'trust anchor'} ${subjectOf(c)}`,
      ...r.files.map((f) => `  ${f.path}  ${f.contents}, mode ${f.mode.toString(8).padStart(4, '0')}`),
      `  Not after  ${isoTime(c.validTo)} (${describeRemaining(c.validFrom, c.validTo, new Date())})`,
      `  SHA-256    ${c.fingerprint256}`,
      ...(next ? [next] : []),
    ].join('\n'),
  );
  for (const n of r.notes) process.stderr.write(`note: ${n}\n`);
}

function registerInspect(certs: Command): void {
  certs
    .command('inspect')
    .description('show what a certificate, chain, CSR or key file holds (keys are described, never printed)')
    .argument('<file>', 'PEM or DER file')
    .addOption(pathOption('--bundle <file>', 'also check that the certificates in <file> chain to an anchor of this trust bundle'))
    .addOption(outputOption())
    .addOption(new Option('--json', 'same as --output json').hideHelp())
    .addHelpText(
      'after',
      `
Exit status: 0 all good; 1 a certificate is expired or not yet valid, a CSR signature does
not verify, or the chain check failed; 2 the file (or the bundle) is missing or unreadable.

Examples:
  $ lanyard certs inspect issuer.crt --bundle ca.crt
  $ lanyard certs inspect tls.key
  $ lanyard certs inspect issuer.crt -o json | jq .certificates[0].notAfter`,
    )
    .action((file: string, o: { bundle?: string; output: string; json?: boolean }) =>
      certsAction(async () => {
        const report = await inspectFile(file, { bundlePath: o.bundle });
        printResult(o.json ? 'json' : o.output, report, () => formatInspectReport(report));
        if (!report.ok) process.exitCode = EXIT_FAILED;
      }),
    );
}
