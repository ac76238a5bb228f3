/**
 * The MutatingWebhookConfiguration. Its caBundle is the trust-anchor bundle: the injector's
 * serving certificate is a Lanyard leaf for `lanyard-injector.<ns>.svc`, chained through
 * the issuer (which the injector sends) to an anchor, so the API server trusts it for as
 * long as the anchor is in the bundle, across issuer rotations and leaf renewals.
 */
import { componentName, INJECT_ANNOTATION } from '../inject/mesh-names.js';
import { labelsOf } from './control-plane.js';
import type { Manifest } from './manifest.js';
import type { InstallValues } from './values.js';

export const WEBHOOK_NAME = 'inject.lanyard.io';
export const WEBHOOK_PATH = '/inject';
/** Namespaces the webhook never sees (the injector refuses them too). */
export const excludedNamespaces = (controlNamespace: string): string[] => ['kube-system', 'kube-node-lease', controlNamespace];

export function webhookConfiguration(v: InstallValues, anchorsPem: string): Manifest {
  const name = componentName('injector');
  return {
    object: {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'MutatingWebhookConfiguration',
      metadata: { name, labels: labelsOf('injector') },
      webhooks: [
        {
          name: WEBHOOK_NAME,
          clientConfig: {
            service: { name, namespace: v.controlNamespace, path: WEBHOOK_PATH, port: 443 },
            caBundle: Buffer.from(anchorsPem).toString('base64'),
          },
          rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
          namespaceSelector: { matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: excludedNamespaces(v.controlNamespace) }] },
          failurePolicy: v.injector.failurePolicy,
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: v.injector.timeoutSeconds,
          reinvocationPolicy: 'IfNeeded',
        },
      ],
    },
    comment: ` Injects the proxy into pods of namespaces or pods annotated ${INJECT_ANNOTATION}: enabled. failurePolicy ${v.injector.failurePolicy}: ${
      v.injector.failurePolicy === 'Ignore' ? 'pods start unmeshed when the injector is down (lanyard check reports them)' : 'pods are refused while the injector is down'
    }.`,
  };
}
