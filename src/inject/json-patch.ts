/**
 * RFC 6902 JSON Patch, the subset injection emits (add, remove, replace), with RFC 6901
 * pointers. The webhook returns these ops to the API server; `lanyard inject` applies the
 * same ops to YAML nodes; applyPatch() applies them to plain JSON (tests, and to plan a
 * second step on the result of a first).
 */

export type PatchOp = { op: 'add'; path: string; value: unknown } | { op: 'remove'; path: string } | { op: 'replace'; path: string; value: unknown };

/** A pointer token: `~` → `~0`, `/` → `~1`. */
export const escapeToken = (t: string | number): string => String(t).replace(/~/g, '~0').replace(/\//g, '~1');

export const pointer = (tokens: readonly (string | number)[]): string => tokens.map((t) => '/' + escapeToken(t)).join('');

/** `/a/b~1c/0` → ['a', 'b/c', '0']. */
export function parsePointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new Error(`JSON pointer ${JSON.stringify(path)} does not start with /`);
  return path
    .slice(1)
    .split('/')
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
}

/** Prefixes every op's path (ops planned on a pod template, applied to the workload holding it). */
export function prefixOps(prefix: readonly (string | number)[], ops: readonly PatchOp[]): PatchOp[] {
  const p = pointer(prefix);
  return ops.map((o) => ({ ...o, path: p + o.path }));
}

/** Applies ops to a deep copy of `doc` and returns it; a path that does not resolve throws. */
export function applyPatch<T>(doc: T, ops: readonly PatchOp[]): T {
  let root: unknown = structuredClone(doc);
  for (const op of ops) {
    const tokens = parsePointer(op.path);
    if (tokens.length === 0) {
      if (op.op === 'remove') throw new Error('cannot remove the document root');
      root = structuredClone(op.value);
      continue;
    }
    const parent = resolve(root, tokens.slice(0, -1), op.path);
    const last = tokens[tokens.length - 1];
    if (Array.isArray(parent)) {
      const i = last === '-' ? parent.length : Number(last);
      const max = op.op === 'add' ? parent.length : parent.length - 1;
      if (!/^\d+$/.test(last) && last !== '-') throw new Error(`${op.path}: ${JSON.stringify(last)} is not an array index`);
      if (i > max) throw new Error(`${op.path}: index ${i} is out of range`);
      if (op.op === 'add') parent.splice(i, 0, structuredClone(op.value));
      else if (op.op === 'remove') parent.splice(i, 1);
      else parent[i] = structuredClone(op.value);
    } else if (parent && typeof parent === 'object') {
      const o = parent as Record<string, unknown>;
      if (op.op !== 'add' && !(last in o)) throw new Error(`${op.path}: no such member`);
      if (op.op === 'remove') delete o[last];
      else o[last] = structuredClone(op.value);
    } else throw new Error(`${op.path}: parent is not a container`);
  }
  return root as T;
}

function resolve(root: unknown, tokens: string[], path: string): unknown {
  let node = root;
  for (const t of tokens) {
    if (Array.isArray(node)) node = node[Number(t)];
    else if (node && typeof node === 'object') node = (node as Record<string, unknown>)[t];
    else node = undefined;
    if (node === undefined) throw new Error(`${path}: ${JSON.stringify(t)} does not exist`);
  }
  return node;
}
