/**
 * Writes a kubeconfig for a (fake) API server: server URL, its CA as
 * certificate-authority-data, and a bearer token, the shape `kubectl config view --raw`
 * shows for a token-authenticated user.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';

export interface KubeconfigTarget {
  url: string;
  caPem: string;
  adminToken: string;
}

export interface KubeconfigOptions {
  /** Token to present instead of the server's admin token (e.g. a refused one). */
  token?: string;
  /** Server URL instead of the target's (e.g. a closed port). */
  server?: string;
  /** Default namespace of the context. Default `lanyard`. */
  namespace?: string;
  /** File name inside `dir`. Default `kubeconfig`. */
  fileName?: string;
}

export function kubeconfigYaml(target: KubeconfigTarget, opts: KubeconfigOptions = {}): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'fake', cluster: { server: opts.server ?? target.url, 'certificate-authority-data': Buffer.from(target.caPem).toString('base64') } }],
    users: [{ name: 'lanyard-identity', user: { token: opts.token ?? target.adminToken } }],
    contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'lanyard-identity', namespace: opts.namespace ?? 'lanyard' } }],
    'current-context': 'fake',
    preferences: {},
  });
}

/** Writes the kubeconfig under `dir` (mode 0600) and returns its path. */
export function writeKubeconfig(dir: string, target: KubeconfigTarget, opts: KubeconfigOptions = {}): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, opts.fileName ?? 'kubeconfig');
  writeFileSync(path, kubeconfigYaml(target, opts), { mode: 0o600 });
  return path;
}
