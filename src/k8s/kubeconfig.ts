/**
 * Where the API server and our credentials come from: a kubeconfig file, the files listed
 * in $KUBECONFIG (merged as kubectl merges them), the pod's service account (in-cluster),
 * or ~/.kube/config.
 *
 * The library's own `loadFromDefault` falls back to an unauthenticated
 * `http://localhost:8080` when it finds nothing; for an identity service that is a silent
 * misconfiguration, so here finding nothing is an error at start-up.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIPv6 } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { K8sError } from './errors.js';

/** Where the in-cluster service account is mounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export interface KubeConfigSource {
  /**
   * A kubeconfig file. Default: none, and then $KUBECONFIG when it is set (a colon-separated
   * list, merged as kubectl merges it: see mergeKubeconfigs), else the in-cluster service
   * account when running in a pod (KUBERNETES_SERVICE_HOST is set and its token is mounted),
   * else ~/.kube/config. An explicitly set $KUBECONFIG wins over in-cluster because the
   * operator chose it.
   */
  path?: string;
  /** Context to use. Default: the file's current-context. */
  context?: string;
  /** Environment to read; default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where the in-cluster token, CA and namespace are mounted. Default SERVICE_ACCOUNT_DIR. */
  serviceAccountDir?: string;
}

export function loadKubeConfig(src: KubeConfigSource = {}): KubeConfig {
  const kc = new KubeConfig();
  const env = src.env ?? process.env;
  const from = describeAndLoad(kc, src, env);
  if (src.context) {
    if (!kc.getContextObject(src.context)) {
      throw new K8sError('ERR_K8S_CONFIG', `kubeconfig ${from}: context ${JSON.stringify(src.context)} does not exist`);
    }
    kc.setCurrentContext(src.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server) {
    throw new K8sError('ERR_K8S_CONFIG', `kubeconfig ${from}: the current context ${JSON.stringify(kc.getCurrentContext())} names no cluster with a server URL`);
  }
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    // The library would throw this on the first request; say it now, at start-up.
    throw new K8sError('ERR_K8S_CONFIG', `kubeconfig ${from}: server ${cluster.server} is plain HTTP; use https (or set insecure-skip-tls-verify for a local test cluster)`);
  }
  return kc;
}

function describeAndLoad(kc: KubeConfig, src: KubeConfigSource, env: NodeJS.ProcessEnv): string {
  if (src.path) {
    loadFile(kc, src.path);
    return src.path;
  }
  const list = (env.KUBECONFIG ?? '').split(delimiter).filter((p) => p.length > 0);
  if (list.length) {
    mergeKubeconfigs(kc, list);
    return `$KUBECONFIG (${list.join(delimiter)})`;
  }
  const saDir = src.serviceAccountDir ?? SERVICE_ACCOUNT_DIR;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (host && port && existsSync(join(saDir, 'token'))) {
    loadInCluster(kc, host, port, saDir);
    return `in-cluster (${saDir})`;
  }
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (existsSync(home)) {
    loadFile(kc, home);
    return home;
  }
  throw new K8sError(
    'ERR_K8S_CONFIG',
    'no Kubernetes configuration found: no $KUBECONFIG, not in a pod (KUBERNETES_SERVICE_HOST unset or no service-account token) and no ~/.kube/config; pass a kubeconfig path',
  );
}

/**
 * What the library's loadFromCluster does, but from `env` rather than process.env. The
 * token is given as a token file, which the library re-reads every minute, so a rotated
 * projected token is picked up without a restart.
 */
function loadInCluster(kc: KubeConfig, host: string, port: string, saDir: string): void {
  const server = `https://${isIPv6(host) ? `[${host}]` : host}:${port}`;
  const nsFile = join(saDir, 'namespace');
  const namespace = existsSync(nsFile) ? readFileSync(nsFile, 'utf8').trim() : undefined;
  kc.loadFromOptions({
    clusters: [{ name: 'in-cluster', server, caFile: join(saDir, 'ca.crt'), skipTLSVerify: false }],
    users: [{ name: 'in-cluster', authProvider: { name: 'tokenFile', config: { tokenFile: join(saDir, 'token') } } }],
    contexts: [{ name: 'in-cluster', cluster: 'in-cluster', user: 'in-cluster', namespace }],
    currentContext: 'in-cluster',
  });
}

function loadFile(kc: KubeConfig, path: string): void {
  try {
    kc.loadFromFile(path);
  } catch (err) {
    throw new K8sError('ERR_K8S_CONFIG', `cannot load kubeconfig ${path}: ${(err as Error).message}`);
  }
}

/**
 * kubectl's merge of a $KUBECONFIG list: files that do not exist are skipped (all missing is
 * an error); for clusters, users and contexts the first file to define a name wins; the
 * current context comes from the first file that sets one. Relative paths inside a file are
 * resolved against that file's directory, as each file is loaded on its own first.
 */
export function mergeKubeconfigs(kc: KubeConfig, paths: readonly string[]): void {
  const present = paths.filter((p) => existsSync(p));
  if (!present.length) throw new K8sError('ERR_K8S_CONFIG', `none of the kubeconfig files in $KUBECONFIG exist: ${paths.join(', ')}`);
  const byName = <T extends { name: string }>(lists: T[][]): T[] => {
    const seen = new Map<string, T>();
    for (const item of lists.flat()) if (!seen.has(item.name)) seen.set(item.name, item);
    return [...seen.values()];
  };
  const files = present.map((p) => {
    const one = new KubeConfig();
    loadFile(one, p);
    return one;
  });
  kc.loadFromOptions({
    clusters: byName(files.map((f) => f.clusters)),
    users: byName(files.map((f) => f.users)),
    contexts: byName(files.map((f) => f.contexts)),
    currentContext: files.find((f) => f.currentContext)?.currentContext ?? '',
  });
}
