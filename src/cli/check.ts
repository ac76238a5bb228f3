/**
 * `lanyard check`: where the mesh's identity stands. Maps options to src/check (which
 * collects and judges) and prints the report. Exit status, the one exception to the 0/1/2
 * convention: 0 every check passed, 1 warnings only, 2 at least one failure; a usage error
 * also exits 2 but prints `lanyard: ...` on stderr and no report.
 */
import type { Command } from 'commander';
import { exitStatusOfReport } from '../check/check-result.js';
import { formatCheckReport } from '../check/format-check.js';
import { runCheck, type ClusterFindings } from '../check/run-check.js';
import { formatAddress } from '../util/address.js';
import { formatDuration } from '../util/duration.js';
import { DEFAULT_EXPIRY_WARNING_MS } from '../check/expiry.js';
import { classified, isKubeconfigError, outputOption, printResult, UsageError } from './cli-conventions.js';
import { collectCluster } from '../check/cluster-collector.js';
import { K8sClient } from '../k8s/k8s-client.js';
import { loadKubeConfig } from '../k8s/kubeconfig.js';
import { durationOption, flagOption, pathOption } from './cli-options.js';
import { addMeshOptions, identityNameOf, kubeconfigFlag, type MeshOptions } from './mesh-options.js';

interface CheckOptions extends MeshOptions {
  issuer?: string;
  trustAnchors?: string;
  expiryWarning: number;
  maxClockSkew: number;
  verbose?: boolean;
  podProbes: boolean;
  output: string;
}

export function registerCheck(program: Command): void {
  const cmd = program
    .command('check')
    .description('check the trust anchors, the issuer, the identity service and the proxies, and say what to fix')
    .addOption(pathOption('--issuer <dir>', "the identity service's issuer directory (tls.crt and tls.key, crt.pem and key.pem, or issuer.crt and issuer.key)"))
    .addOption(pathOption('--trust-anchors <file>', 'the trust bundle: a PEM file, or a directory holding ca.crt or ca-bundle.crt (default: the issuer directory)'));
  addMeshOptions(cmd)
    .addOption(durationOption('--expiry-warning <duration>', 'warn about an anchor or issuer that expires within this window (the alert rules use 60d too)', { default: formatDuration(DEFAULT_EXPIRY_WARNING_MS) }))
    .addOption(durationOption('--max-clock-skew <duration>', 'fail a clock further off than this; warn past a quarter of it (the identity service backdates leaves by 20s)', { default: '20s', min: 1000 }))
    .addOption(flagOption('--no-pod-probes', 'with --kubernetes, do not connect to pod IPs (where they do not route from here): proxies, identity service and injector are then not checked'))
    .addOption(flagOption('--verbose', 'also show what each passing check found'))
    .addOption(outputOption())
    .addHelpText(
      'after',
      `
Works on files, on a running identity service, on proxies and on a cluster, in any mix:
every source given is checked, and checks that need a missing one are skipped.

Exit status: 0 every check passed; 1 warnings only; 2 at least one failure. A usage error
also exits 2, with a "lanyard: ..." line on stderr and no report on stdout.

Examples:
  $ lanyard check --issuer /etc/lanyard/issuer --trust-anchors /etc/lanyard/ca-bundle.crt
  $ lanyard check --identity-addr 127.0.0.1:8080 --identity-admin-addr 127.0.0.1:9990 --trust-anchors ca.crt
  $ lanyard check --trust-anchors ca.crt --issuer issuer --proxy 127.0.0.1:4191 --proxy 127.0.0.1:4192
  $ lanyard check --kubernetes -o json | jq '.categories[].checks[] | select(.status != "ok")'`,
    )
    .action(async (o: CheckOptions, command: Command) => {
      const identityName = identityNameOf(o);
      const nothing = o.issuer === undefined && o.trustAnchors === undefined && !o.identityAddr && !o.identityAdminAddr && !o.proxy?.length && !o.kubernetes;
      if (nothing) throw new UsageError('nothing to check: pass --issuer and --trust-anchors, --identity-addr, --proxy or --kubernetes');
      const kubeconfig = kubeconfigFlag(o, command);
      const cluster = o.kubernetes ? await clusterCollector(o, kubeconfig) : undefined;
      const report = await runCheck({
        issuerDir: o.issuer,
        trustAnchors: o.trustAnchors,
        identityAddr: o.identityAddr ? formatAddress(o.identityAddr) : undefined,
        identityAdminAddr: o.identityAdminAddr ? formatAddress(o.identityAdminAddr) : undefined,
        identityName,
        proxies: o.proxy ?? [],
        cluster,
        expiryWarningMs: o.expiryWarning,
        skew: { failMs: o.maxClockSkew, warnMs: o.maxClockSkew / 4 },
        timeoutMs: o.timeout,
      });
      printResult(o.output, report, () => formatCheckReport(report, { verbose: o.verbose }));
      process.exitCode = exitStatusOfReport(report);
    });
}

/** The cluster's state, read through the kubeconfig; a missing or broken kubeconfig is a usage error. */
async function clusterCollector(o: CheckOptions, kubeconfig: string | undefined): Promise<() => Promise<ClusterFindings>> {
  if (o.issuer !== undefined || o.trustAnchors !== undefined) throw new UsageError('--issuer and --trust-anchors are for files; with --kubernetes the issuer and the bundle are read from the cluster');
  const client = await classified(() => new K8sClient({ kubeConfig: loadKubeConfig({ path: kubeconfig }), timeoutMs: o.timeout }), isKubeconfigError);
  return async () => {
    try {
      return await collectCluster({ client, controlNamespace: o.controlNamespace, timeoutMs: o.timeout, probePods: o.podProbes });
    } finally {
      client.close();
    }
  };
}
