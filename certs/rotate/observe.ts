/**
 * What a rotation observes besides its target: the proxies' admin endpoints (`/identity`
 * through src/check's collector) and, optionally, the identity service (the issuer its
 * serving certificate comes from, and the anchors its /metrics lists).
 */
import { probeTls } from '../../src/check/identity-probe.js';
import { proxyAdminAddress } from '../../src/check/mesh-pods.js';
import type { PodObject } from '../../src/k8s/pods.js';
import { proxyName, readProxy, type ProxyObservation } from '../../src/check/proxy-report.js';
import { adminGet } from '../../src/check/admin-get.js';
import type { IdentityState, ProxyState } from './rotation-state.js';

export interface ProxyFinder {
  /** What answered, and whether the set is known at all (false: none named and --no-proxies not given). */
  find(): Promise<{ observations: ProxyObservation[]; known: boolean }>;
}

/** The proxies named with --proxy (or none, with --no-proxies). */
export class StaticProxies implements ProxyFinder {
  constructor(
    private readonly addresses: string[],
    private readonly noneRun: boolean,
    private readonly timeoutMs = 5000,
  ) {}

  async find(): Promise<{ observations: ProxyObservation[]; known: boolean }> {
    const observations = await Promise.all(this.addresses.map((a) => readProxy(a, { timeoutMs: this.timeoutMs })));
    return { observations, known: this.addresses.length > 0 || this.noneRun };
  }
}

export function proxyState(p: ProxyObservation): ProxyState {
  return {
    name: proxyName(p),
    error: p.error,
    anchors: p.identity?.anchors.map((a) => a.fingerprint) ?? [],
    issuerFingerprint: p.identity?.issuerFingerprint ?? null,
  };
}

export interface IdentityTarget {
  /** Certify address (host:port). */
  address?: string;
  /** Admin address (host:port), for the anchors it has loaded. */
  adminAddress?: string;
  serverName: string;
  timeoutMs?: number;
}

/** The identity service as a rotation needs it; null when no address was given. */
export async function observeIdentity(t: IdentityTarget): Promise<IdentityState | null> {
  if (!t.address && !t.adminAddress) return null;
  const name = t.address ?? t.adminAddress!;
  const state: IdentityState = { name, error: null, servingIssuer: null, anchors: null };
  if (t.address) {
    const tls = await probeTls(t.address, t.serverName, t.timeoutMs);
    if (tls.error) return { ...state, error: tls.error };
    state.servingIssuer = tls.chain[1]?.fingerprint256 ?? null;
  }
  if (t.adminAddress) {
    try {
      state.anchors = anchorsFromMetrics((await adminGet(t.adminAddress, '/metrics', t.timeoutMs)).body);
    } catch (e) {
      return { ...state, error: (e as Error).message };
    }
  }
  return state;
}

/** The `fingerprint` labels of lanyard_identity_trust_anchor_expiry_timestamp_seconds: the bundle it has loaded. */
export function anchorsFromMetrics(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(/^lanyard_identity_trust_anchor_expiry_timestamp_seconds\{[^}]*fingerprint="([0-9A-F:]+)"/gm)) out.add(m[1]);
  return [...out];
}

/** Meshed pods' proxies, found through the Kubernetes API on every look (pods come and go), plus any --proxy. */
export class ClusterProxies implements ProxyFinder {
  constructor(
    private readonly listPods: () => Promise<PodObject[]>,
    private readonly extra: string[] = [],
    private readonly timeoutMs = 5000,
  ) {}

  async find(): Promise<{ observations: ProxyObservation[]; known: boolean }> {
    const found = (await this.listPods()).flatMap((p) => proxyAdminAddress(p) ?? []);
    const observations = await Promise.all([
      ...found.map((a) => readProxy(a.address, { timeoutMs: this.timeoutMs }, a.pod)),
      ...this.extra.map((a) => readProxy(a, { timeoutMs: this.timeoutMs })),
    ]);
    return { observations, known: true };
  }
}
