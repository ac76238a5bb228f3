/**
 * `lanyard certs rotate --kubernetes`: the issuer Secret and the trust-bundle ConfigMap as the
 * rotation's target, and the meshed pods' proxies as what it waits for.
 */
import type { ProxyFinder } from '../../certs/rotate/observe.js';
import type { RotationTarget } from '../../certs/rotate/rotation-target.js';
import { UsageError } from './cli-conventions.js';
import type { RotateOptions } from './certs-rotate.js';

export async function clusterRotation(_o: RotateOptions, _kubeconfig: string | undefined): Promise<{ target: RotationTarget; proxies: ProxyFinder }> {
  throw new UsageError('--kubernetes: not available yet');
}
