/**
 * Ports a pod keeps out of the mesh, from its annotations (`lanyard.io/skip-inbound-ports`,
 * `lanyard.io/skip-outbound-ports`: `25,587,6000-6010`, as Linkerd's
 * `config.linkerd.io/skip-*-ports`), passed to `lanyard proxy-init` as
 * `--inbound-ports-to-ignore`/`--outbound-ports-to-ignore`. Traffic on them bypasses the
 * proxy entirely: no mTLS, no policy, no audit. Parsed with proxy-init's own grammar
 * (src/util/port-ranges.ts), so a value inject accepts never fails in the init container;
 * a value it refuses refuses the injection, naming the annotation, rather than leaving the
 * pod unmeshed or its init container crash-looping. Pure.
 */
import { formatPortRanges, parsePortRanges } from '../util/port-ranges.js';
import { named, ValueError } from '../util/value-error.js';
import { SKIP_INBOUND_PORTS_ANNOTATION, SKIP_OUTBOUND_PORTS_ANNOTATION } from './mesh-names.js';

/** Canonical flag values (`25,6000-6010`), or null for none. */
export interface SkipPorts {
  inbound: string | null;
  outbound: string | null;
}

export const NO_SKIPPED_PORTS: SkipPorts = { inbound: null, outbound: null };

/** @returns the ports, or the reason the annotations cannot be used */
export function skipPortsOf(annotations: Record<string, string> | undefined): SkipPorts | { error: string } {
  const read = (key: string): string | null => {
    const text = annotations?.[key];
    if (text === undefined || text.trim() === '') return null;
    const list = named(`annotation ${key}`, () => parsePortRanges(text));
    return list.length ? formatPortRanges(list) : null;
  };
  try {
    return { inbound: read(SKIP_INBOUND_PORTS_ANNOTATION), outbound: read(SKIP_OUTBOUND_PORTS_ANNOTATION) };
  } catch (e) {
    if (e instanceof ValueError) return { error: e.message };
    throw e;
  }
}
