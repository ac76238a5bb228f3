/**
 * Kubelet probes under the mesh. The kubelet probes from the node, in plaintext, so once the
 * pod's inbound policy refuses unauthenticated peers (`deny`, `all-authenticated`, ...) the
 * proxy would refuse its HTTP probes and a TCP probe would only ever test the proxy. As Istio
 * does (`rewriteAppHTTPProbers`, on by default), injection points each app container's
 * `httpGet` and `tcpSocket` probes at the proxy's admin port, which proxy-init never
 * redirects, as `/app-health/<container>/<kind>`; the proxy runs the original probe against
 * the container (proxy/probes). Nothing on the app's ports is opened to unauthenticated
 * peers, and what is probed comes from the pod spec, never from the request.
 *
 * The originals travel verbatim in the proxy's `LANYARD_PROXY_APP_PROBES`, so uninjection
 * restores them exactly. Left alone: exec and grpc probes, probes naming another `host`,
 * and named ports the container does not declare. Pure: containers in, patch ops out.
 */
import { appProbePath, type AppProbeEntry } from '../../proxy/probes/app-probes.js';
import { escapeToken, type PatchOp } from './json-patch.js';
import { PORTS, PROXY_CONTAINER } from './mesh-names.js';

export const APP_PROBES_ENV = 'LANYARD_PROXY_APP_PROBES';

type Json = Record<string, unknown>;
type Container = { name?: string; ports?: { name?: string; containerPort?: number }[]; env?: { name?: string; value?: string }[]; [k: string]: unknown };

const KINDS = [
  ['livenessProbe', 'liveness'],
  ['readinessProbe', 'readiness'],
  ['startupProbe', 'startup'],
] as const;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export interface ProbeRewrite {
  /** Admin path -> the original probe (the proxy's LANYARD_PROXY_APP_PROBES). Empty: nothing rewritten. */
  probes: Record<string, AppProbeEntry>;
  ops: PatchOp[];
}

/** The port a probe action names, as a number: a name is looked up in the container's ports. */
function resolvePort(c: Container, port: unknown): number | null {
  if (typeof port === 'number') return Number.isInteger(port) && port >= 1 && port <= 65535 ? port : null;
  if (typeof port !== 'string') return null;
  return c.ports?.find((p) => p.name === port)?.containerPort ?? null;
}

/** Rewrites the probes of `containers` (the pod's `spec.containers`, not yet injected). */
export function rewriteProbes(containers: readonly Container[]): ProbeRewrite {
  const probes: Record<string, AppProbeEntry> = {};
  const ops: PatchOp[] = [];
  containers.forEach((c, i) => {
    if (!c.name || c.name === PROXY_CONTAINER) return;
    for (const [field, kind] of KINDS) {
      const probe = c[field];
      if (!isObject(probe)) continue;
      const action = isObject(probe.httpGet) ? 'httpGet' : isObject(probe.tcpSocket) ? 'tcpSocket' : null;
      if (!action) continue;
      const original = probe[action] as Json;
      if (typeof original.host === 'string' && original.host !== '') continue;
      const port = resolvePort(c, original.port);
      if (port === null) continue;
      const path = appProbePath(c.name, kind);
      const entry: AppProbeEntry = { port, [action]: structuredClone(original) };
      if (typeof probe.timeoutSeconds === 'number') entry.timeoutSeconds = probe.timeoutSeconds;
      probes[path] = entry;
      const at = `/spec/containers/${i}/${field}`;
      const redirected = { path, port: PORTS.proxyAdmin, scheme: 'HTTP' };
      if (action === 'httpGet') ops.push({ op: 'replace', path: `${at}/httpGet`, value: redirected });
      else ops.push({ op: 'replace', path: at, value: swapAction(probe, 'tcpSocket', 'httpGet', redirected) });
    }
  });
  return { probes, ops };
}

/** The probes an injected pod's proxy carries, or {} (absent or unreadable). */
export function injectedProbes(proxy: Container | undefined): Record<string, AppProbeEntry> {
  const text = proxy?.env?.find((e) => e.name === APP_PROBES_ENV)?.value;
  if (!text) return {};
  try {
    const doc: unknown = JSON.parse(text);
    return isObject(doc) ? (doc as Record<string, AppProbeEntry>) : {};
  } catch {
    return {};
  }
}

/** Puts back the probes rewriteProbes() moved: only those still pointing where it put them. */
export function restoreProbes(containers: readonly Container[], probes: Record<string, AppProbeEntry>): PatchOp[] {
  const ops: PatchOp[] = [];
  containers.forEach((c, i) => {
    if (!c.name) return;
    for (const [field, kind] of KINDS) {
      const path = appProbePath(c.name, kind);
      const entry = probes[path];
      const probe = c[field];
      if (!entry || !isObject(probe) || !isObject(probe.httpGet)) continue;
      if (probe.httpGet.path !== path || probe.httpGet.port !== PORTS.proxyAdmin) continue;
      const at = `/spec/containers/${i}/${escapeToken(field)}`;
      if (isObject(entry.httpGet)) ops.push({ op: 'replace', path: `${at}/httpGet`, value: entry.httpGet });
      else if (isObject(entry.tcpSocket)) ops.push({ op: 'replace', path: at, value: swapAction(probe, 'httpGet', 'tcpSocket', entry.tcpSocket) });
    }
  });
  return ops;
}

/** The probe with one action in place of another, keeping the fields' order (so uninjection gives back the input). */
function swapAction(probe: Json, from: string, to: string, value: unknown): Json {
  return Object.fromEntries(Object.entries(probe).map(([k, v]) => (k === from ? [to, value] : [k, v])));
}
