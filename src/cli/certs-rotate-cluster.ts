/**
 * `lanyard certs rotate --kubernetes`: the issuer Secret and the trust-bundle ConfigMap as the
 * rotation's target, the meshed pods' proxies (by pod IP and their lanyard-admin port) as
 * what it waits for, and the identity service's pod, unless --identity-addr names it.
 */
import { ClusterTarget } from '../../certs/rotate/cluster-target.js';
import { ClusterProxies, type IdentityTarget, type ProxyFinder } from '../../certs/rotate/observe.js';
import type { RotationTarget } from '../../certs/rotate/rotation-target.js';
import { componentAddresses } from '../check/mesh-pods.js';
import { listPods } from '../k8s/config-objects.js';
import { K8sClient } from '../k8s/k8s-client.js';
import { loadKubeConfig } from '../k8s/kubeconfig.js';
import { classified, isKubeconfigError, UsageError } from './cli-conventions.js';
import type { RotateOptions } from './certs-rotate.js';

export interface ClusterRotation {
  target: RotationTarget;
  proxies: ProxyFinder;
  /** The identity service's pod, when one runs (used unless --identity-addr is given). */
  identity?: Omit<IdentityTarget, 'serverName'>;
  close(): void;
}

export async function clusterRotation(o: RotateOptions, kubeconfig: string | undefined): Promise<ClusterRotation> {
  if (!o.proxies) throw new UsageError('--no-proxies is for files: on a cluster the meshed pods are the proxies');
  const client = await classified(() => new K8sClient({ kubeConfig: loadKubeConfig({ path: kubeconfig }), timeoutMs: o.timeout }), isKubeconfigError);
  const pods = () => listPods(client, undefined, { timeoutMs: o.timeout });
  const identityPod = (await pods()).map((p) => componentAddresses(p, 'identity')).find((a) => a !== null);
  return {
    target: new ClusterTarget(client, o.controlNamespace),
    proxies: new ClusterProxies(pods, o.proxy ?? [], o.timeout),
    identity: identityPod ? { address: identityPod.serving, adminAddress: identityPod.admin, timeoutMs: o.timeout } : undefined,
    close: () => client.close(),
  };
}
