/**
 * `lanyard inject` and `--uninject` over a stream of manifests: multi-document YAML or JSON,
 * `List`s, any workload with a pod template. Each pod template gets the ops pod-patch.ts plans;
 * in YAML they are applied to the document's nodes, so comments, field order and formatting
 * of everything injection does not touch stay as they were, and a document that needs no
 * change is copied byte for byte.
 */
import { isMap, isPair, isSeq, parseAllDocuments, type Document, type Node } from 'yaml';
import type { InjectConfig } from './inject-config.js';
import { applyPatch, parsePointer, prefixOps, type PatchOp } from './json-patch.js';
import { planInjection, planUninjection, type PodTemplate } from './pod-patch.js';
import { describeObject, getPath, isList, podTemplatePath } from './workloads.js';

/** As close to hand-written Kubernetes YAML as the library gets: `{app: web}`, no line folding. */
const YAML_OPTIONS = { flowCollectionPadding: false, lineWidth: 0 } as const;

export type Outcome = 'injected' | 'updated' | 'unchanged' | 'skipped' | 'uninjected';

export interface RewriteReport {
  workload: string;
  outcome: Outcome;
  reason?: string;
}

export type RewriteMode = { inject: InjectConfig } | { uninject: true };

export interface RewriteResult {
  text: string;
  reports: RewriteReport[];
}

/** Input that is not YAML or JSON; `message` says where. */
export class ManifestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

/** Plans the ops for one object (and the items of a List), with paths from the object's root. */
export function planObject(obj: unknown, mode: RewriteMode, reports: RewriteReport[], prefix: (string | number)[] = []): PatchOp[] {
  if (isList(obj)) return obj.items.flatMap((item, i) => planObject(item, mode, reports, [...prefix, 'items', i]));
  const path = podTemplatePath(obj);
  if (!path) return [];
  const template = getPath(obj, path) as PodTemplate | undefined;
  const workload = describeObject(obj);
  if (!template || typeof template !== 'object') {
    reports.push({ workload, outcome: 'skipped', reason: 'no pod template' });
    return [];
  }
  const at = [...prefix, ...path];
  if ('uninject' in mode) {
    const ops = planUninjection(template);
    reports.push({ workload, outcome: ops.length ? 'uninjected' : 'unchanged', ...(ops.length ? {} : { reason: 'not injected' }) });
    return prefixOps(at, ops);
  }
  const owner = path.length ? (obj as { metadata?: PodTemplate['metadata'] }).metadata : undefined;
  const d = planInjection(template, mode.inject, owner);
  // Nothing is printed rather than a pod meshed otherwise than its annotations ask.
  if (d.action === 'refuse') throw new ManifestError(`${workload}: ${d.reason}`);
  if (d.action !== 'inject') {
    reports.push({ workload, outcome: d.action === 'skip' ? 'skipped' : 'unchanged', reason: d.reason });
    return [];
  }
  reports.push({ workload, outcome: d.update ? 'updated' : 'injected' });
  return prefixOps(at, d.ops);
}

export function rewriteManifests(text: string, mode: RewriteMode, format: 'auto' | 'yaml' | 'json' = 'auto'): RewriteResult {
  const json = /^\s*[[{]/.test(text);
  if (json && format !== 'yaml') return rewriteJson(text, mode);
  const reports: RewriteReport[] = [];
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  const parts: string[] = [];
  const objects: unknown[] = [];
  list.forEach((doc, i) => {
    if (doc.errors.length) throw new ManifestError(`document ${i + 1}: ${doc.errors[0].message}`);
    const start = doc.range[0];
    const end = i + 1 < list.length ? list[i + 1].range[0] : text.length;
    const js: unknown = doc.toJS();
    const ops = planObject(js, mode, reports);
    if (ops.length) applyToYaml(doc, ops);
    objects.push(ops.length ? doc.toJS() : js);
    parts.push(ops.length ? doc.toString(YAML_OPTIONS) : text.slice(i === 0 ? 0 : start, end));
  });
  if (format === 'json') return { text: toJsonText(objects.filter((o) => o !== null && o !== undefined)), reports };
  return { text: parts.join(''), reports };
}

function rewriteJson(text: string, mode: RewriteMode): RewriteResult {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (e) {
    throw new ManifestError(`not valid JSON: ${(e as Error).message}`);
  }
  const reports: RewriteReport[] = [];
  const objects = Array.isArray(obj) ? obj : [obj];
  const out = objects.map((o) => applyPatch(o, planObject(o, mode, reports)));
  return { text: toJsonText(Array.isArray(obj) ? [out] : out), reports };
}

function toJsonText(objects: unknown[]): string {
  const value = objects.length === 1 ? objects[0] : { apiVersion: 'v1', kind: 'List', items: objects };
  return JSON.stringify(value, null, 2) + '\n';
}

/** Applies ops to the YAML nodes of `doc` (the same semantics as applyPatch on its JSON). */
function applyToYaml(doc: Document, ops: readonly PatchOp[]): void {
  for (const op of ops) {
    const tokens = parsePointer(op.path);
    const parent = nodeAt(doc, tokens.slice(0, -1), op.path);
    const last = tokens[tokens.length - 1];
    if (isSeq(parent)) {
      const i = last === '-' ? parent.items.length : Number(last);
      if (op.op === 'remove') parent.items.splice(i, 1);
      else parent.items.splice(i, op.op === 'replace' ? 1 : 0, replacement(doc, op, parent.items[i]));
    } else if (isMap(parent)) {
      if (op.op === 'remove') parent.delete(last);
      else parent.set(last, replacement(doc, op, parent.get(last, true)));
    } else throw new Error(`${op.path}: parent is not a collection`);
  }
}

/**
 * The node an add or replace puts in; a replacement keeps the flow or block style of the
 * collections it replaces, position by position, so that replacing a value and replacing it
 * back (inject, then uninject) gives the input's text again.
 */
function replacement(doc: Document, op: PatchOp, old: unknown): Node {
  const node = doc.createNode((op as { value: unknown }).value);
  if (op.op === 'replace') copyStyle(old, node);
  return node;
}

function copyStyle(from: unknown, to: unknown): void {
  if (!(isMap(from) && isMap(to)) && !(isSeq(from) && isSeq(to))) return;
  to.flow = from.flow;
  const a = from.items as unknown[];
  const b = to.items as unknown[];
  if (a.length !== b.length) return;
  a.forEach((x, i) => copyStyle(isPair(x) ? x.value : x, isPair(b[i]) ? (b[i] as { value: unknown }).value : b[i]));
}

function nodeAt(doc: Document, tokens: string[], path: string): Node {
  let node: unknown = doc.contents;
  for (const t of tokens) {
    node = isSeq(node) ? node.items[Number(t)] : isMap(node) ? node.get(t, true) : undefined;
    if (node === undefined) throw new Error(`${path}: ${t} does not exist`);
  }
  return node as Node;
}
