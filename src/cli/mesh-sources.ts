/**
 * The options `lanyard edges`, `lanyard tap` and `lanyard dashboard` share to name the
 * proxies they read: `--proxy <host:port>` (repeatable), or `--namespace <ns>` /
 * `--all-namespaces` to find the meshed pods through the Kubernetes API.
 */
import type { Command } from 'commander';
import type { ProxySource } from '../audit/proxy-sources.js';
import { sourcesFromAddresses } from '../audit/proxy-sources.js';
import { classified, isKubeconfigError, OperationError, UsageError } from './cli-conventions.js';
import { durationOption, flagOption, pathOption, textOption } from './cli-options.js';
import { proxyOption } from './mesh-options.js';

export interface SourceOptions {
  /** `host:port` dial addresses, as `lanyard check` takes them. */
  proxy?: string[];
  namespace?: string;
  allNamespaces?: boolean;
  kubeconfig?: string;
  timeout: number;
}

export function addSourceOptions(cmd: Command): Command {
  return cmd
    .addOption(proxyOption())
    .addOption(textOption('-n, --namespace <ns>', "the meshed pods of this namespace, reached at their pod IP on the proxy's admin port"))
    .addOption(flagOption('-A, --all-namespaces', 'the meshed pods of every namespace'))
    .addOption(pathOption('--kubeconfig <file>', 'kubeconfig for --namespace and --all-namespaces (default: the files the variable lists, merged as kubectl merges them; else in-cluster, else ~/.kube/config)', { env: 'KUBECONFIG' }))
    .addOption(durationOption('--timeout <duration>', 'bound on reading each proxy (and on the Kubernetes API)', { default: '5s', min: 1 }));
}

/** A KUBECONFIG from the environment may be a list: loadKubeConfig merges it, so it is not passed as a path. */
export function normalizeSourceOptions(o: SourceOptions, cmd: Command): void {
  if (cmd.getOptionValueSource('kubeconfig') === 'env') o.kubeconfig = undefined;
}

export interface ResolvedSources {
  sources: ProxySource[];
  /** Notes for stderr: pods that cannot be read. */
  notes: string[];
}

/** The proxies the options name. @throws UsageError when they name none or two kinds at once */
export async function resolveSources(o: SourceOptions): Promise<ResolvedSources> {
  const kinds = [o.proxy?.length ? '--proxy' : null, o.namespace ? '--namespace' : null, o.allNamespaces ? '--all-namespaces' : null].filter((k) => k !== null);
  if (kinds.length === 0) throw new UsageError('name the proxies to read: --proxy <host:port> (repeatable), --namespace <ns> or --all-namespaces');
  if (kinds.length > 1) throw new UsageError(`${kinds.join(' and ')} cannot be combined: name the proxies one way`);
  if (o.proxy?.length) return { sources: sourcesFromAddresses(o.proxy), notes: [] };
  // The Kubernetes client is large; only this source loads it.
  const [{ K8sClient }, { loadKubeConfig }, { sourcesFromKubernetes }] = await Promise.all([
    import('../k8s/k8s-client.js'),
    import('../k8s/kubeconfig.js'),
    import('../audit/proxy-sources.js'),
  ]);
  const kubeConfig = await classified(() => loadKubeConfig({ path: o.kubeconfig }), isKubeconfigError);
  const client = new K8sClient({ kubeConfig, timeoutMs: o.timeout });
  let found;
  try {
    found = await sourcesFromKubernetes(client, o.allNamespaces ? undefined : o.namespace);
  } catch (e) {
    throw new OperationError(`cannot list pods: ${(e as Error).message}`);
  }
  const where = o.allNamespaces ? 'any namespace' : `namespace ${o.namespace}`;
  const notes = found.skipped.map((s) => `skipping ${s.pod}: ${s.reason}`);
  if (found.sources.length === 0) throw new OperationError(`no running meshed pod in ${where}`);
  return { sources: found.sources, notes };
}
