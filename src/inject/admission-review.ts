/**
 * The injector's decision on one AdmissionReview v1, pure: the review's JSON, the pod's
 * namespace annotations (read by the caller) and the inject config in, the AdmissionReview
 * response out. Every review that can be answered is answered with `allowed` (unchanged or
 * with a JSONPatch) or refused with a message; only a body that is not an AdmissionReview at
 * all (no uid to answer to) is a BadReviewError, which the server turns into HTTP 400.
 *
 * Who gets a proxy: pods annotated `lanyard.io/inject: enabled`, or in a namespace so
 * annotated. `disabled` on the namespace wins over the pod (an operator who opts a namespace
 * out means it); `disabled` on the pod wins over its namespace. kube-system,
 * kube-node-lease and the control plane's namespace are never injected.
 */
import type { InjectConfig } from './inject-config.js';
import { INJECT_ANNOTATION } from './mesh-names.js';
import { planInjection, type PodTemplate } from './pod-patch.js';

export const ADMISSION_API = 'admission.k8s.io/v1';

export class BadReviewError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BadReviewError';
  }
}

export type Decision = 'injected' | 'unchanged' | 'skipped' | 'refused';

export interface AdmissionAnswer {
  decision: Decision;
  /** Why (for the log and the metric), e.g. "namespace shop is not annotated lanyard.io/inject: enabled". */
  reason: string;
  review: { apiVersion: string; kind: 'AdmissionReview'; response: Record<string, unknown> };
}

export interface ReviewRequest {
  uid: string;
  namespace: string;
  pod: PodTemplate;
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks the envelope. Returns the request, or an answer for a well-formed review we must not
 * act on (wrong kind or operation, no object): allowed unchanged, saying why.
 */
export function readReview(body: unknown): ReviewRequest | AdmissionAnswer {
  if (!isObj(body)) throw new BadReviewError('the body is not a JSON object');
  if (body.kind !== 'AdmissionReview') throw new BadReviewError(`expected kind AdmissionReview, got ${JSON.stringify(body.kind)?.slice(0, 60)}`);
  if (body.apiVersion !== ADMISSION_API) throw new BadReviewError(`expected apiVersion ${ADMISSION_API}, got ${JSON.stringify(body.apiVersion)?.slice(0, 60)}`);
  const req = body.request;
  if (!isObj(req) || typeof req.uid !== 'string' || !req.uid) throw new BadReviewError('request.uid: required');
  const uid = req.uid;
  const kind = isObj(req.kind) ? req.kind : {};
  if (kind.group !== '' || kind.version !== 'v1' || kind.kind !== 'Pod') {
    return answer(uid, 'unchanged', `not a Pod (${[kind.group, kind.version, kind.kind].filter(Boolean).join('/') || 'no kind'}): the injector only mutates pods`, {}, true);
  }
  if (req.operation !== 'CREATE') return answer(uid, 'unchanged', `operation ${String(req.operation)}: pods are only injected when created`, {}, true);
  const pod = req.object;
  if (!isObj(pod) || !isObj(pod.spec)) return answer(uid, 'refused', 'request.object: a Pod with a spec is required', { allowed: false, status: { code: 400, message: 'lanyard injector: request.object is not a Pod with a spec' } });
  const meta = isObj(pod.metadata) ? pod.metadata : {};
  const namespace = typeof req.namespace === 'string' && req.namespace ? req.namespace : typeof meta.namespace === 'string' ? meta.namespace : '';
  if (!namespace) return answer(uid, 'refused', 'no namespace', { allowed: false, status: { code: 400, message: 'lanyard injector: the request names no namespace' } });
  return { uid, namespace, pod: pod as PodTemplate };
}

export interface DecideInput {
  request: ReviewRequest;
  /** The namespace's annotations, or null when they could not be read. */
  namespaceAnnotations: Record<string, string> | null;
  cfg: InjectConfig;
  excludedNamespaces: readonly string[];
}

export function decide({ request, namespaceAnnotations, cfg, excludedNamespaces }: DecideInput): AdmissionAnswer {
  const { uid, namespace, pod } = request;
  if (excludedNamespaces.includes(namespace)) return answer(uid, 'unchanged', `namespace ${namespace} is never injected`);
  const podSays = pod.metadata?.annotations?.[INJECT_ANNOTATION];
  const nsSays = namespaceAnnotations?.[INJECT_ANNOTATION];
  if (nsSays === 'disabled') return answer(uid, 'unchanged', `namespace ${namespace} is annotated ${INJECT_ANNOTATION}: disabled`);
  if (podSays === 'disabled') return answer(uid, 'unchanged', `the pod is annotated ${INJECT_ANNOTATION}: disabled`);
  if (podSays !== 'enabled' && nsSays !== 'enabled') {
    const unknown = namespaceAnnotations === null ? ` (its namespace ${namespace} could not be read)` : '';
    return answer(uid, 'unchanged', `neither the pod nor namespace ${namespace} is annotated ${INJECT_ANNOTATION}: enabled${unknown}`, {}, namespaceAnnotations === null);
  }
  const plan = planInjection(pod, cfg);
  if (plan.action === 'skip') return answer(uid, 'skipped', plan.reason, {}, true);
  if (plan.action === 'refuse') return answer(uid, 'refused', plan.reason, { allowed: false, status: { code: 400, message: `lanyard injector: ${plan.reason}` } });
  if (plan.action === 'unchanged') return answer(uid, 'unchanged', plan.reason);
  return answer(uid, 'injected', `${plan.ops.length} patch operations`, { patchType: 'JSONPatch', patch: Buffer.from(JSON.stringify(plan.ops)).toString('base64') });
}

function answer(uid: string, decision: Decision, reason: string, extra: Json = {}, warn = false): AdmissionAnswer {
  // kubectl shows warnings to whoever created the pod: say why a pod that may have wanted a proxy did not get one.
  const warnings = warn && decision !== 'refused' ? { warnings: [`lanyard injector: not injected: ${reason}`] } : {};
  return { decision, reason, review: { apiVersion: ADMISSION_API, kind: 'AdmissionReview', response: { uid, allowed: true, ...warnings, ...extra } } };
}
