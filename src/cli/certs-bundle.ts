/**
 * `lanyard certs bundle add|remove|list`: the anchors of a trust bundle (one PEM file of
 * CA certificates). Decisions live in certs/bundle.ts; this maps options and prints.
 */
import type { X509Certificate } from 'node:crypto';
import { Option, type Command } from 'commander';
import { addToBundleFile, readBundleFile, removeFromBundleFile, summarizeAnchors, type BundleChange } from '../../certs/bundle.js';
import { describeRemaining } from '../../certs/format.js';
import { subjectOf } from '../../certs/x509-facts.js';
import { outputOption, printResult } from './cli-conventions.js';
import { pathOption } from './cli-options.js';
import { certsAction } from './certs-errors.js';

const bundleOption = () => pathOption('--bundle <file>', 'the trust bundle PEM file').makeOptionMandatory();
const brief = (a: X509Certificate) => ({ subject: subjectOf(a), fingerprintSha256: a.fingerprint256 });

/** A change as JSON: what was added, skipped or removed, and the bundle after it. */
function changeJson(path: string, change: BundleChange): unknown {
  return {
    bundle: path,
    added: change.added.map(brief),
    alreadyPresent: change.alreadyPresent.map(brief),
    removed: change.removed.map(brief),
    anchors: summarizeAnchors(change.anchors),
    notes: change.notes,
  };
}

function printChange(format: string, path: string, change: BundleChange, lines: string[]): void {
  for (const n of change.notes) process.stderr.write(`warning: ${n}\n`);
  const changed = change.added.length + change.removed.length > 0;
  const total = `${path}: ${change.anchors.length} anchor${change.anchors.length === 1 ? '' : 's'}${changed ? '' : ' (unchanged)'}`;
  printResult(format, changeJson(path, change), () => [...lines, total].join('\n'));
}

export function registerBundle(certs: Command): void {
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
    .addOption(bundleOption())
    .addOption(outputOption())
    .argument('<cert...>', 'certificate files (PEM or DER) holding CA certificates')
    .addHelpText('after', '\nExample:\n  $ lanyard certs bundle add --bundle trust-bundle.pem new/ca.crt')
    .action((certPaths: string[], o: { bundle: string; output: string }) =>
      certsAction(() => {
        const change = addToBundleFile(o.bundle, certPaths);
        printChange(o.output, o.bundle, change, [
          ...change.added.map((a) => `added    ${a.fingerprint256}  ${subjectOf(a)}`),
          ...change.alreadyPresent.map((a) => `present  ${a.fingerprint256}  ${subjectOf(a)} (already in the bundle)`),
        ]);
      }),
    );

  bundle
    .command('remove')
    .description('remove anchors from a bundle, by SHA-256 fingerprint or by certificate file')
    .addOption(bundleOption())
    .option('--fingerprint <sha256>', 'SHA-256 fingerprint of an anchor to remove (repeatable; as `bundle list` prints it)', collect, [])
    .option('--allow-empty', 'allow removing the last anchor (proxies will then trust no one)')
    .addOption(outputOption())
    .argument('[cert...]', 'certificate files of the anchors to remove')
    .addHelpText(
      'after',
      `
Examples:
  $ lanyard certs bundle remove --bundle trust-bundle.pem old/ca.crt
  $ lanyard certs bundle remove --bundle trust-bundle.pem --fingerprint 3F:A1:...:9C`,
    )
    .action((certPaths: string[], o: { bundle: string; fingerprint: string[]; allowEmpty?: boolean; output: string }) =>
      certsAction(() => {
        const change = removeFromBundleFile(o.bundle, { fingerprints: o.fingerprint, certPaths }, { allowEmpty: o.allowEmpty });
        printChange(o.output, o.bundle, change, change.removed.map((a) => `removed  ${a.fingerprint256}  ${subjectOf(a)}`));
      }),
    );

  bundle
    .command('list')
    .description('list the anchors of a bundle with their fingerprints and expiry')
    .addOption(bundleOption())
    .addOption(outputOption())
    .addOption(new Option('--json', 'same as --output json').hideHelp())
    .addHelpText('after', '\nExample:\n  $ lanyard certs bundle list --bundle trust-bundle.pem -o json | jq -r ".[].fingerprintSha256"')
    .action((o: { bundle: string; output: string; json?: boolean }) =>
      certsAction(() => {
        const now = new Date();
        const anchors = summarizeAnchors(readBundleFile(o.bundle), now);
        printResult(o.json ? 'json' : o.output, anchors, () => {
          if (!anchors.length) return `${o.bundle}: empty bundle (proxies trust no one)`;
          return anchors
            .map((a) =>
              [
                `${a.index}. ${a.subject}${a.selfSigned ? '' : ' (not self-signed)'}`,
                `   SHA-256    ${a.fingerprintSha256}`,
                `   Not after  ${a.notAfter} (${describeRemaining(a.notBefore, a.notAfter, now)})`,
              ].join('\n'),
            )
            .join('\n');
        });
      }),
    );
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
