/**
 * Lists of TCP ports and ranges, `25,587,6000-6010` (or `6000:6010`, iptables' spelling):
 * the one grammar for `lanyard proxy-init --inbound-ports-to-ignore`/`--outbound-ports-to-ignore`
 * and the pod annotations `lanyard.io/skip-inbound-ports`/`skip-outbound-ports` that inject
 * and the injector turn into those flags, so a value the annotation accepts is one proxy-init
 * accepts.
 */
import { parsePort } from './address.js';
import { quote, ValueError } from './value-error.js';

/** An inclusive TCP port range; a single port has `from === to`. */
export interface PortRange {
  from: number;
  to: number;
}

const EXAMPLE = 'TCP ports 1-65535 such as 25,587,6000-6010';

/** Blank items are skipped (a trailing comma is harmless), duplicates dropped. @throws ValueError */
export function parsePortRanges(text: string): PortRange[] {
  const port = (item: string): number => {
    // A lone value gets parsePort's own message; in a list, the item is named.
    if (item.trim() === text.trim()) return parsePort(item);
    try {
      return parsePort(item);
    } catch {
      throw new ValueError(`expected ${EXAMPLE} (${quote(item)} is not one), got ${quote(text)}`);
    }
  };
  const out: PortRange[] = [];
  for (const raw of text.split(',').map((s) => s.trim())) {
    if (!raw) continue;
    const m = /^(\d+)\s*[-:]\s*(\d+)$/.exec(raw);
    const range = m ? { from: port(m[1]), to: port(m[2]) } : { from: port(raw), to: port(raw) };
    if (range.from > range.to) throw new ValueError(`expected ranges written low-high (${range.to}-${range.from}), got ${quote(text)}`);
    if (!out.some((r) => r.from === range.from && r.to === range.to)) out.push(range);
  }
  return out;
}

/** The canonical text of a list: `25,6000-6010`. */
export function formatPortRanges(ranges: readonly PortRange[]): string {
  return ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(',');
}
