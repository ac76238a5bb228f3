/** GET /api/v1/namespaces/{name}: the injector reads a namespace's annotations. */
import { CoreV1Api, type V1Namespace } from '@kubernetes/client-node';
import type { CallOptions, K8sClient } from './k8s-client.js';

export function readNamespace(client: K8sClient, name: string, opts?: CallOptions): Promise<V1Namespace> {
  const api = client.api(CoreV1Api);
  return client.call(`get namespaces/${name}`, (options) => api.readNamespace({ name }, options), opts);
}
