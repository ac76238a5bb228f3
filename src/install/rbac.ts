/**
 * Least-privilege RBAC for the control plane. Each rule says why it exists (the YAML output
 * carries the reason as a comment above the rule). Nothing here touches Secrets: the issuer
 * reaches the identity service as a mounted volume, which the kubelet reads, not us.
 */
import { componentName, type Component } from '../inject/mesh-names.js';
import type { Manifest } from './manifest.js';

export interface Rule {
  why: string;
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

export const RULES: Record<Component, Rule[]> = {
  identity: [
    {
      why: 'Certify verifies each workload\'s service-account token with a TokenReview (the "kubernetes" validator).',
      apiGroups: ['authentication.k8s.io'],
      resources: ['tokenreviews'],
      verbs: ['create'],
    },
    {
      why: 'At start-up the identity service asks, with a SelfSubjectAccessReview, whether it may create TokenReviews, so missing RBAC fails the rollout instead of the first Certify.',
      apiGroups: ['authorization.k8s.io'],
      resources: ['selfsubjectaccessreviews'],
      verbs: ['create'],
    },
  ],
  discovery: [
    {
      why: 'Discovery maps pod IPs to the identity their proxies present: it lists and watches pods in every namespace (read-only).',
      apiGroups: [''],
      resources: ['pods'],
      verbs: ['get', 'list', 'watch'],
    },
  ],
  injector: [
    {
      why: 'AdmissionReviews carry the pod, not its namespace: the injector reads the namespace to see its lanyard.io/inject annotation (read-only).',
      apiGroups: [''],
      resources: ['namespaces'],
      verbs: ['get'],
    },
  ],
};

export function rbacObjects(c: Component, ns: string): Manifest[] {
  const name = componentName(c);
  const labels = { 'app.kubernetes.io/part-of': 'lanyard', 'app.kubernetes.io/component': c };
  return [
    {
      object: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: `${name}`, labels },
        rules: RULES[c].map(({ apiGroups, resources, verbs }) => ({ apiGroups, resources, verbs })),
      },
      comment: ` What ${name} may do in the API, and nothing more.`,
      ruleComments: RULES[c].map((r) => ` ${r.why}`),
    },
    {
      object: {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
        subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
      },
    },
  ];
}
