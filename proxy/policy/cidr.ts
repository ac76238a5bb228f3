/**
 * IPv4 and IPv6 addresses and CIDR blocks, small enough to audit at a glance.
 *
 * Written here rather than taken from a package because the policy engine's security rests
 * on it and its rules are few: dotted-quad IPv4 without leading zeros (a leading zero means
 * octal to some parsers, so `010.0.0.1` is refused rather than guessed), RFC 4291 IPv6 text
 * with `::` and an embedded IPv4 tail, and IPv4-mapped IPv6 (`::ffff:10.0.0.1`) treated as
 * the IPv4 address it carries, because a dual-stack listener reports IPv4 peers that way.
 */

export type IpAddress =
  | { readonly family: 4; readonly v4: number }
  /** Four big-endian 32-bit words. */
  | { readonly family: 6; readonly v6: readonly number[] };

const V4 = /^(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})\.(0|[1-9]\d{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const PREFIX = /^(0|[1-9]\d{0,2})$/;

function parseV4(s: string): number | null {
  const m = V4.exec(s);
  if (!m) return null;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return null;
    n = n * 256 + octet;
  }
  return n;
}

/** Sixteen-bit groups of one side of `::`; an IPv4 tail is allowed only as the address's last part. */
function groupsOf(parts: string[], v4TailAllowed: boolean): number[] | null {
  const out: number[] = [];
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (HEX_GROUP.test(p)) {
      out.push(parseInt(p, 16));
    } else if (v4TailAllowed && i === parts.length - 1) {
      const v4 = parseV4(p);
      if (v4 === null) return null;
      out.push(v4 >>> 16, v4 & 0xffff);
    } else {
      return null;
    }
  }
  return out;
}

function parseV6Groups(s: string): number[] | null {
  const gap = s.indexOf('::');
  if (gap !== s.lastIndexOf('::')) return null;
  if (gap < 0) {
    const all = groupsOf(s.split(':'), true);
    return all && all.length === 8 ? all : null;
  }
  const headText = s.slice(0, gap);
  const tailText = s.slice(gap + 2);
  const head = headText ? groupsOf(headText.split(':'), !tailText) : [];
  const tail = tailText ? groupsOf(tailText.split(':'), true) : [];
  if (!head || !tail || head.length + tail.length > 7) return null;
  const zeros = 8 - head.length - tail.length;
  for (let i = 0; i < zeros; i++) head.push(0);
  for (const g of tail) head.push(g);
  return head;
}

function fromGroups(g: number[]): IpAddress {
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return { family: 4, v4: ((g[6] << 16) | g[7]) >>> 0 };
  }
  const v6 = [((g[0] << 16) | g[1]) >>> 0, ((g[2] << 16) | g[3]) >>> 0, ((g[4] << 16) | g[5]) >>> 0, ((g[6] << 16) | g[7]) >>> 0];
  return { family: 6, v6 };
}

/**
 * Parses an IPv4 or IPv6 address; IPv4-mapped IPv6 comes back as IPv4. `allowZone` accepts
 * and drops a `%zone` suffix (Node reports link-local peers as `fe80::1%eth0`).
 */
export function parseIp(text: string, opts: { allowZone?: boolean } = {}): IpAddress | null {
  if (text.includes(':')) {
    let s = text;
    const zone = s.indexOf('%');
    if (zone >= 0) {
      if (!opts.allowZone || zone === s.length - 1) return null;
      s = s.slice(0, zone);
    }
    const groups = parseV6Groups(s);
    return groups ? fromGroups(groups) : null;
  }
  const v4 = parseV4(text);
  return v4 === null ? null : { family: 4, v4 };
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lower case, longest zero run as `::`). */
export function formatIp(a: IpAddress): string {
  if (a.family === 4) return [a.v4 >>> 24, (a.v4 >>> 16) & 255, (a.v4 >>> 8) & 255, a.v4 & 255].join('.');
  const g = a.v6.flatMap((w) => [w >>> 16, w & 0xffff]);
  let best = -1;
  let bestLen = 1; // RFC 5952: a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j > i ? j : i + 1;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** The mask for the `bits` most significant bits of a 32-bit word. */
function mask(bits: number): number {
  if (bits <= 0) return 0;
  if (bits >= 32) return 0xffffffff;
  return (0xffffffff << (32 - bits)) >>> 0;
}

export class Cidr {
  private constructor(
    /** The block as written in the policy, for rule names and reasons. */
    readonly text: string,
    readonly network: IpAddress,
    readonly prefix: number,
  ) {}

  /**
   * Parses `addr/prefix`, or a bare address as a single host. A block with host bits set
   * (`10.0.0.1/8`) is refused: it is usually a typo for a host or for a different block.
   * `::ffff:a.b.c.d/n` with n >= 96 becomes the IPv4 block it maps, so it matches IPv4 peers.
   */
  static parse(text: string): Cidr | { error: string } {
    const notCidr = { error: `${JSON.stringify(text)} is not a CIDR` };
    const slash = text.indexOf('/');
    const addrText = slash < 0 ? text : text.slice(0, slash);
    const addr = parseIp(addrText);
    if (!addr) return notCidr;
    const mapped = addr.family === 4 && addrText.includes(':');
    const max = addr.family === 4 && !mapped ? 32 : 128;
    let prefix = max;
    if (slash >= 0) {
      const p = text.slice(slash + 1);
      if (!PREFIX.test(p) || Number(p) > max) return notCidr;
      prefix = Number(p);
    }
    if (mapped) {
      if (prefix < 96) return notCidr; // spans beyond ::ffff:0:0/96; IPv4 peers never match it
      prefix -= 96;
    }
    const network = Cidr.masked(addr, prefix);
    if (!Cidr.equal(network, addr)) {
      const suggestion = `${formatIp(network)}/${mapped ? prefix + 96 : prefix}`;
      return { error: `${JSON.stringify(text)} is not a CIDR: host bits are set (did you mean ${mapped ? '::ffff:' : ''}${suggestion}?)` };
    }
    return new Cidr(text, network, prefix);
  }

  contains(addr: IpAddress): boolean {
    const net = this.network;
    if (net.family === 4) return addr.family === 4 && (addr.v4 & mask(this.prefix)) >>> 0 === net.v4;
    if (addr.family !== 6) return false;
    for (let i = 0; i < 4; i++) {
      if ((addr.v6[i] & mask(this.prefix - 32 * i)) >>> 0 !== net.v6[i]) return false;
    }
    return true;
  }

  toString(): string {
    return this.text;
  }

  private static masked(addr: IpAddress, prefix: number): IpAddress {
    if (addr.family === 4) return { family: 4, v4: (addr.v4 & mask(prefix)) >>> 0 };
    return { family: 6, v6: addr.v6.map((w, i) => (w & mask(prefix - 32 * i)) >>> 0) };
  }

  private static equal(a: IpAddress, b: IpAddress): boolean {
    if (a.family === 4) return b.family === 4 && a.v4 === b.v4;
    return b.family === 6 && a.v6.every((w, i) => w === b.v6[i]);
  }
}

/** The first block containing `addr`, or undefined. */
export function findNetwork(cidrs: readonly Cidr[], addr: IpAddress | null): Cidr | undefined {
  if (!addr) return undefined;
  for (const c of cidrs) if (c.contains(addr)) return c;
  return undefined;
}
