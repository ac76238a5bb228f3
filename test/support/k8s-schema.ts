/**
 * Validates objects against Kubernetes' OpenAPI schemas with kubernetes-models (each model's
 * validate() checks types, required fields and formats of its kind). A `List` is validated
 * item by item. Unknown kinds fail: every object Lanyard emits must have a schema here.
 */
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { DaemonSet, Deployment, ReplicaSet, StatefulSet } from 'kubernetes-models/apps/v1';
import { CronJob, Job } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ClusterRole, ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { ConfigMap, Namespace, Pod, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';

type Ctor = new (data: any) => { validate(): void };
const MODELS: Record<string, Ctor> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Secret': Secret,
  'v1/ConfigMap': ConfigMap,
  'v1/Service': Service,
  'v1/Pod': Pod,
  'apps/v1/Deployment': Deployment,
  'apps/v1/StatefulSet': StatefulSet,
  'apps/v1/DaemonSet': DaemonSet,
  'apps/v1/ReplicaSet': ReplicaSet,
  'batch/v1/Job': Job,
  'batch/v1/CronJob': CronJob,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
};

/** Throws with the kind, the name and the schema's complaint. Returns the number of objects checked. */
export function validateK8sObject(obj: any): number {
  if (obj?.kind === 'List' && obj.apiVersion === 'v1') return (obj.items as unknown[]).reduce<number>((n, item) => n + validateK8sObject(item), 0);
  const key = `${obj?.apiVersion}/${obj?.kind}`;
  const Model = MODELS[key];
  if (!Model) throw new Error(`no schema for ${key}`);
  const { apiVersion: _a, kind: _k, ...data } = obj;
  try {
    new Model(data).validate();
  } catch (e) {
    throw new Error(`${key} ${obj.metadata?.namespace ?? ''}/${obj.metadata?.name}: ${(e as Error).message}`);
  }
  return 1;
}
