/**
 * One object of `lanyard install`'s output, with the comments the YAML rendering carries,
 * and the renderers: multi-document YAML (comments kept) or one JSON List.
 */
import { Document, isMap, isSeq } from 'yaml';

export interface Manifest {
  object: Record<string, unknown>;
  /** A comment above the document. */
  comment?: string;
  /** One comment above each item of `rules` (RBAC: why the rule exists). */
  ruleComments?: string[];
}

export function renderYaml(manifests: readonly Manifest[]): string {
  return manifests
    .map((m) => {
      const doc = new Document(m.object);
      if (m.comment) doc.commentBefore = m.comment;
      const rules = isMap(doc.contents) ? doc.contents.get('rules', true) : undefined;
      if (m.ruleComments && isSeq(rules)) rules.items.forEach((item, i) => ((item as { commentBefore?: string }).commentBefore = m.ruleComments![i]));
      return '---\n' + doc.toString({ lineWidth: 0 });
    })
    .join('');
}

export function renderJson(manifests: readonly Manifest[]): string {
  return JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifests.map((m) => m.object) }, null, 2) + '\n';
}
