/**
 * Reads a namespace's annotations for the injector (an AdmissionReview carries the pod, not
 * its namespace), through src/k8s with a short cache so a burst of pod creations in one
 * namespace costs one API call. A failed read answers null: the injector then goes by the
 * pod's own annotation, and says so.
 */
import type { K8sClient } from '../k8s/k8s-client.js';
import { readNamespace } from '../k8s/namespaces.js';
import type { Logger } from '../telemetry/logger.js';

export interface NamespaceAnnotationReader {
  annotations(namespace: string): Promise<Record<string, string> | null>;
}

export class KubernetesNamespaceAnnotations implements NamespaceAnnotationReader {
  private readonly cache = new Map<string, { at: number; value: Record<string, string> }>();

  constructor(
    private readonly client: K8sClient,
    private readonly logger: Logger,
    /** How long an answer is reused. Default 10s. */
    private readonly ttlMs = 10_000,
    private readonly clock: () => number = Date.now,
  ) {}

  async annotations(namespace: string): Promise<Record<string, string> | null> {
    const hit = this.cache.get(namespace);
    if (hit && this.clock() - hit.at < this.ttlMs) return hit.value;
    try {
      // Well inside the webhook's own timeout, so a slow API server still gets an answer.
      const ns = await readNamespace(this.client, namespace, { timeoutMs: 2000 });
      const value = { ...(ns.metadata?.annotations ?? {}) };
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(namespace, { at: this.clock(), value });
      return value;
    } catch (e) {
      this.logger.warn({ namespace, reason: (e as Error).message }, 'cannot read the namespace');
      return null;
    }
  }
}
