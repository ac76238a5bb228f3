/**
 * `lanyard inject FILE|-`: adds the proxy to every workload in the input (or removes it with
 * --uninject) and prints the result on stdout; what was skipped, and why, goes to stderr.
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { bundleFingerprint } from '../pki/bundle-fingerprint.js';
import { injectConfigFrom } from '../inject/inject-config.js';
import { ManifestError, rewriteManifests, type RewriteMode } from '../inject/manifest-rewriter.js';
import { UsageError } from './cli-conventions.js';
import { choiceOption, flagOption, pathOption, readOptionFile } from './cli-options.js';
import { addValuesOptions, valuesFrom, type ValuesFlags } from './values-options.js';

interface InjectOptions extends ValuesFlags {
  uninject?: boolean;
  identityTrustAnchorsFile?: string;
  output?: 'yaml' | 'json';
}

export function registerInject(program: Command): void {
  const cmd = program
    .command('inject')
    .description('add the Lanyard proxy to workloads (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob, Pod, Lists, multi-document YAML)')
    .argument('<file>', 'manifest file, or - for standard input')
    .addOption(flagOption('--uninject', 'remove what inject added, restoring the input'))
    .addOption(flagOption('--native-sidecar', 'run the proxy as a native sidecar (init container with restartPolicy Always; Kubernetes 1.29+)'))
    .addOption(pathOption('--identity-trust-anchors-file <file>', 'the installed trust bundle: its fingerprint is recorded on each pod (lanyard check compares it)'))
    .addOption(choiceOption('-o, --output <format>', 'output format (default: that of the input)', ['yaml', 'json'] as const));
  addValuesOptions(cmd).addHelpText(
    'after',
    `
Injecting twice changes nothing; re-injecting with other values updates the proxy.
Skipped, with the reason on stderr: hostNetwork pods, pods with another sidecar proxy, and
pods or workloads annotated lanyard.io/inject: disabled.
The app's httpGet and tcpSocket probes are moved to the proxy's admin port (4191), which
runs them, so they pass under a deny policy. Pod annotations lanyard.io/skip-inbound-ports
and lanyard.io/skip-outbound-ports (e.g. 25,6000-6010) keep ports out of the mesh.

Examples:
  kubectl get deploy -n shop -o yaml | lanyard inject - | kubectl apply -f -
  lanyard inject app.yaml --identity-trust-anchors-file pki/ca.crt --set image.tag=v0.1.0
  lanyard inject --uninject injected.yaml`,
  );
  cmd.action((file: string, o: InjectOptions) => runInject(file, o));
}

function runInject(file: string, o: InjectOptions): void {
  const input = readInput(file);
  let mode: RewriteMode;
  if (o.uninject) mode = { uninject: true };
  else {
    const values = valuesFrom(o);
    const fingerprint = o.identityTrustAnchorsFile ? fingerprintOf(o.identityTrustAnchorsFile) : null;
    if (!fingerprint) process.stderr.write('note: no --identity-trust-anchors-file: pods get no trust-bundle fingerprint annotation\n');
    mode = { inject: injectConfigFrom(values, fingerprint) };
  }
  let result;
  try {
    result = rewriteManifests(input, mode, o.output ?? 'auto');
  } catch (e) {
    if (e instanceof ManifestError) throw new UsageError(`${file === '-' ? 'standard input' : file}: ${e.message}`);
    throw e;
  }
  process.stdout.write(result.text);
  for (const r of result.reports) {
    process.stderr.write(`${r.outcome} ${r.workload}${r.reason ? `: ${r.reason}` : ''}\n`);
  }
}

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`<file>: cannot read ${file === '-' ? 'standard input' : file}: ${code === 'ENOENT' ? 'no such file' : (code ?? (e as Error).message)}`);
  }
}

function fingerprintOf(path: string): string {
  const pem = readOptionFile('--identity-trust-anchors-file', undefined, path);
  try {
    return bundleFingerprint(pem);
  } catch (e) {
    throw new UsageError(`--identity-trust-anchors-file: ${path}: ${(e as Error).message}`);
  }
}
