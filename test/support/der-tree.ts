/**
 * A DER tree for mutation tests, written independently of src/pki/der.ts: a lenient reader
 * (any definite length, long or short form) and a writer with minimal lengths, so
 * `encodeDer(parseDer(b)).equals(b)` says whether `b` is canonical DER. An OCTET STRING
 * whose content is itself DER (an extension value) can be opened as `wrapped`, so that
 * mutations reach inside it and the canonical check covers it.
 */

export interface DerNode {
  tag: number;
  /** Set for constructed tags (bit 0x20). */
  children?: DerNode[];
  /** Set for primitive tags (unless `wrapped`). */
  content?: Buffer;
  /** The DER value inside an OCTET STRING. */
  wrapped?: DerNode;
  /** Length bytes to write instead of the minimal ones (to forge non-minimal lengths). */
  lengthBytes?: number[];
}

function parseAt(buf: Buffer, pos: number, end: number): { node: DerNode; next: number } {
  if (pos + 2 > end) throw new Error('truncated header');
  const tag = buf[pos];
  if ((tag & 0x1f) === 0x1f) throw new Error('multi-byte tag');
  let len = buf[pos + 1];
  let p = pos + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > end) throw new Error('bad length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[p + i];
    p += n;
  }
  if (p + len > end) throw new Error('truncated content');
  const stop = p + len;
  if (tag & 0x20) {
    const children: DerNode[] = [];
    while (p < stop) {
      const r = parseAt(buf, p, stop);
      children.push(r.node);
      p = r.next;
    }
    return { node: { tag, children }, next: stop };
  }
  return { node: { tag, content: Buffer.from(buf.subarray(p, stop)) }, next: stop };
}

/** Parses exactly one value filling `buf`; throws if it does not. */
export function parseDer(buf: Buffer): DerNode {
  const r = parseAt(buf, 0, buf.length);
  if (r.next !== buf.length) throw new Error('trailing bytes');
  return r.node;
}

function minimalLength(n: number): number[] {
  if (n < 0x80) return [n];
  const out: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return [0x80 | out.length, ...out];
}

export function encodeDer(n: DerNode): Buffer {
  const body = n.children ? Buffer.concat(n.children.map(encodeDer)) : n.wrapped ? encodeDer(n.wrapped) : (n.content ?? Buffer.alloc(0));
  return Buffer.concat([Buffer.from([n.tag, ...(n.lengthBytes ?? minimalLength(body.length))]), body]);
}

/** Opens `node` (an OCTET STRING) as `wrapped` when its content is one value; returns whether it did. */
export function openOctetString(node: DerNode): boolean {
  if (node.tag !== 0x04 || !node.content) return false;
  try {
    node.wrapped = parseDer(node.content);
    node.content = undefined;
    return true;
  } catch {
    return false;
  }
}

/**
 * Whether `buf` is one DER value with minimal lengths throughout: every constructed value,
 * and the OCTET STRINGs `open` opens.
 */
export function isCanonicalDer(buf: Buffer, open: (root: DerNode) => void = () => undefined): boolean {
  try {
    const root = parseDer(buf);
    open(root);
    return encodeDer(root).equals(buf);
  } catch {
    return false;
  }
}

/**
 * A deep copy of `n` as it stands, forged lengths and opened values included. (Copying by
 * encoding and parsing again fails once a forged length no longer matches its content.)
 */
export function cloneDer(n: DerNode): DerNode {
  const c: DerNode = { tag: n.tag };
  if (n.children) c.children = n.children.map(cloneDer);
  if (n.content) c.content = Buffer.from(n.content);
  if (n.wrapped) c.wrapped = cloneDer(n.wrapped);
  if (n.lengthBytes) c.lengthBytes = [...n.lengthBytes];
  return c;
}

/** Every node, depth first, the root first; wrapped values included. */
export function allNodes(root: DerNode): DerNode[] {
  const out: DerNode[] = [];
  const visit = (n: DerNode) => {
    out.push(n);
    n.children?.forEach(visit);
    if (n.wrapped) visit(n.wrapped);
  };
  visit(root);
  return out;
}
