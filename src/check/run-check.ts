/**
 * `lanyard check` end to end: collect what each source shows (files, the identity service,
 * proxies, the cluster), run the pure checks on it, and build one report. Collectors never
 * throw for what they observe (an unreachable proxy is a finding, not an error).
 */
import { X509Certificate } from 'node:crypto';
import { checkIdentityService } from './check-identity-service.js';
import { checkPki, type PkiInput } from './check-pki.js';
import { checkProxies } from './check-proxies.js';
import { buildReport, type CheckCategory, type CheckReport } from './check-result.js';
import type { SkewLimits } from './clock-skew.js';
import { probeTls, readAdminReady } from './identity-probe.js';
import { findBundle, readBundleSource, readIssuerSource } from './pki-files.js';
import { readProxy, type ProxyObservation } from './proxy-report.js';

/** What a cluster shows, collected by cluster-check.ts. */
export interface ClusterFindings {
  /** The issuer and bundle as the cluster holds them (Secret, ConfigMap). */
  pki: PkiInput;
  /** Meshed pods' proxies, read through their admin ports. */
  proxies: ProxyObservation[];
  /** Why no proxies were found, when none were. */
  noProxiesBecause?: string;
  /** The identity service's pod addresses, when it runs there. */
  identity?: { address: string; adminAddress: string };
  /** The `lanyard-kubernetes` category, judged with the PKI facts. */
  categories: (facts: { anchors: readonly X509Certificate[] | null; issuer: X509Certificate | null; pki: CheckCategory; now: Date }) => CheckCategory[];
}

export interface CheckConfig {
  /** Issuer directory (`--issuer`). */
  issuerDir?: string;
  /** Bundle file or directory (`--trust-anchors`). */
  trustAnchors?: string;
  /** Certify address (`--identity-addr`). */
  identityAddr?: string;
  /** Admin address (`--identity-admin-addr`). */
  identityAdminAddr?: string;
  /** The name the identity service must present. */
  identityName: string;
  /** Proxy admin addresses (`--proxy`). */
  proxies: string[];
  /** Collects the cluster's state, when `--kubernetes`. */
  cluster?: () => Promise<ClusterFindings>;
  expiryWarningMs: number;
  skew: SkewLimits;
  /** Per network call. */
  timeoutMs: number;
  clock?: () => number;
}

export async function runCheck(cfg: CheckConfig): Promise<CheckReport> {
  const clock = cfg.clock ?? Date.now;
  const cluster = cfg.cluster ? await cfg.cluster() : null;
  const identityAddr = cfg.identityAddr ?? cluster?.identity?.address;
  const identityAdminAddr = cfg.identityAdminAddr ?? cluster?.identity?.adminAddress;
  const [tls, admin, proxies] = await Promise.all([
    identityAddr ? probeTls(identityAddr, cfg.identityName, cfg.timeoutMs) : null,
    identityAdminAddr ? readAdminReady(identityAdminAddr, cfg.timeoutMs, clock) : null,
    Promise.all(cfg.proxies.map((p) => readProxy(p, { timeoutMs: cfg.timeoutMs, clock }))),
  ]);
  const now = new Date(clock());
  const pkiInput = pkiFromFiles(cfg) ?? cluster?.pki ?? { bundle: null, issuer: null };
  // Without files or a cluster, the issuer the identity service serves with is still worth judging.
  if (!pkiInput.issuer && tls && !tls.error && tls.chain[1]) {
    pkiInput.issuer = { ok: true, source: `the identity service at ${tls.address}`, certPem: tls.chain.slice(1).map((c) => c.toString()).join(''), keyPem: null };
  }
  const opts = { now, expiryWarningMs: cfg.expiryWarningMs };
  const pki = checkPki(pkiInput, opts);
  const { anchors, issuer, issuerAnchor } = pki.facts;
  const categories: CheckCategory[] = [pki.category];
  if (tls || admin) {
    const issuerSource = pkiInput.issuer?.source;
    categories.push(checkIdentityService({ tls, admin, expectedName: cfg.identityName, anchors, issuer, issuerSource, now, skew: cfg.skew }));
  }
  const allProxies = [...proxies, ...(cluster?.proxies ?? [])];
  if (allProxies.length || cluster) {
    categories.push(checkProxies({ proxies: allProxies, anchors, issuer, issuerAnchor, now, skew: cfg.skew, noneBecause: cluster?.noProxiesBecause }));
  }
  if (cluster) categories.push(...cluster.categories({ anchors, issuer, pki: pki.category, now }));
  return buildReport(categories, now);
}

/** The PKI from `--issuer`/`--trust-anchors`, or null when neither was given. */
export function pkiFromFiles(cfg: Pick<CheckConfig, 'issuerDir' | 'trustAnchors'>): PkiInput | null {
  if (cfg.issuerDir === undefined && cfg.trustAnchors === undefined) return null;
  const bundlePath = findBundle(cfg.trustAnchors, cfg.issuerDir);
  const label = cfg.trustAnchors !== undefined ? '--trust-anchors' : '--issuer';
  return {
    bundle: bundlePath ? readBundleSource(bundlePath, label) : null,
    issuer: cfg.issuerDir !== undefined ? readIssuerSource(cfg.issuerDir) : null,
  };
}
