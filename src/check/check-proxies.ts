/**
 * The `lanyard-proxies` category: what each proxy reports on its admin port, judged against
 * the current trust bundle and issuer (Linkerd's "data plane proxies are ready" and "data
 * plane proxies certificate match CA", per proxy and by fingerprint). Pure.
 */
import type { X509Certificate } from 'node:crypto';
import { describeSkew, estimateSkew, judgeSkew, type SkewEstimate, type SkewLimits } from './clock-skew.js';
import { fail, ok, skip, warn, type CheckCategory, type CheckResult } from './check-result.js';
import { LEAF_RENEWAL_OVERDUE_FRACTION, isoTime, span } from './expiry.js';
import { proxyName, type ProxyIdentity, type ProxyObservation } from './proxy-report.js';

export const PROXIES_CATEGORY = 'lanyard-proxies';

export interface ProxyCheckInput {
  proxies: ProxyObservation[];
  /** The current bundle; null when unknown (those checks are skipped). */
  anchors: readonly X509Certificate[] | null;
  /** The current issuer; null when unknown. */
  issuer: X509Certificate | null;
  /** The anchor the current issuer chains to. */
  issuerAnchor: X509Certificate | null;
  now: Date;
  skew: SkewLimits;
  /** Why there are no proxies, when there are none (shown as the skip reason). */
  noneBecause?: string;
}

const D = {
  reachable: ['proxies-reachable', 'every proxy answers on its admin port'],
  ready: ['proxies-ready', 'every proxy is ready'],
  anchors: ['proxies-anchors-match-bundle', 'every proxy uses the anchors of the current trust bundle'],
  chains: ['proxies-leaf-chains-to-bundle', 'every proxy certificate chains to an anchor of the bundle'],
  issuer: ['proxies-leaf-issuer', 'every proxy certificate is issued by the current issuer'],
  expiry: ['proxies-leaf-not-expiring', 'no proxy certificate is expired or overdue for renewal'],
  skew: ['proxies-clock-skew', "every proxy's clock agrees with this machine's"],
} as const;

type Entry = readonly [string, string];
const normalizeDn = (dn: string): string => dn.split(/\s*[,\n]\s*/).filter(Boolean).join(',');

export function checkProxies(input: ProxyCheckInput): CheckCategory {
  const all = Object.values(D);
  if (!input.proxies.length) return { name: PROXIES_CATEGORY, checks: all.map(([id, d]) => skip(id, d, input.noneBecause ?? 'no proxies given (--proxy ADDR)')) };
  const answered = input.proxies.filter((p) => !p.error && p.identity);
  const checks: CheckResult[] = [reachable(input.proxies), ready(input.proxies)];
  const withLeaf = answered.filter((p) => p.identity!.chain.length > 0);
  checks.push(anchorsMatch(answered, input), chainsToBundle(withLeaf, input), leafIssuer(withLeaf, input), leafExpiry(withLeaf, input.now), clockSkew(answered, input.skew));
  return { name: PROXIES_CATEGORY, checks };
}

function verdict(entry: Entry, problems: string[], hint: string, level: 'warn' | 'fail' = 'fail', passed: string[] = []): CheckResult {
  const [id, description] = entry;
  if (!problems.length) return ok(id, description, passed);
  return level === 'warn' ? warn(id, description, problems, hint) : fail(id, description, problems, hint);
}

function reachable(proxies: ProxyObservation[]): CheckResult {
  const bad = proxies.filter((p) => p.error || !p.identity).map((p) => `${proxyName(p)}: ${p.error ?? 'no /identity'}`);
  return verdict(D.reachable, bad, 'check the addresses (--proxy is the admin address, port 4191 by default) and that the pods run', 'fail', [`${proxies.length - bad.length} of ${proxies.length} answered`]);
}

function ready(proxies: ProxyObservation[]): CheckResult {
  const bad = proxies.filter((p) => !p.error && p.ready === false).map((p) => `${proxyName(p)}: not ready: ${p.readyReason ?? p.identity?.lastError ?? 'no reason given'}`);
  return verdict(D.ready, bad, 'a proxy without a certificate serves nothing: its log says why Certify fails (token, identity service address, trust anchors)');
}

function anchorsMatch(answered: ProxyObservation[], input: ProxyCheckInput): CheckResult {
  if (!input.anchors) return skip(D.anchors[0], D.anchors[1], 'no trust bundle to compare with');
  const want = new Set(input.anchors.map((a) => a.fingerprint256));
  const needed = input.issuerAnchor?.fingerprint256;
  const broken: string[] = [];
  const drift: string[] = [];
  for (const p of answered) {
    const have = new Set(p.identity!.anchors.map((a) => a.fingerprint));
    const missing = [...want].filter((f) => !have.has(f));
    const extra = [...have].filter((f) => !want.has(f));
    if (!missing.length && !extra.length) continue;
    const line = `${proxyName(p)}: ${[missing.length ? `lacks ${missing.join(', ')}` : '', extra.length ? `still trusts ${extra.join(', ')}` : ''].filter(Boolean).join('; ')}`;
    (needed && !have.has(needed) ? broken : drift).push(line);
  }
  if (broken.length) {
    return fail(D.anchors[0], D.anchors[1], [...broken, ...drift], "a proxy without the current issuer's anchor cannot verify the identity service or its peers: its trust-anchors file is not the bundle (the ConfigMap mount, or LANYARD_PROXY_TRUST_ANCHORS)");
  }
  return verdict(D.anchors, drift, 'proxies reload the bundle within seconds of a change (the kubelet may take a minute to update a ConfigMap volume); if it persists, the proxy reads another file', 'warn');
}

/** The anchors a leaf verifies to: reported, or inferred from the name of the chain's last issuer. */
function leafAnchors(id: ProxyIdentity, anchors: readonly X509Certificate[]): X509Certificate[] {
  if (id.chainsTo) return anchors.filter((a) => id.chainsTo!.includes(a.fingerprint256));
  const top = normalizeDn(id.chain[id.chain.length - 1].issuer);
  return anchors.filter((a) => normalizeDn(a.subject) === top);
}

function chainsToBundle(withLeaf: ProxyObservation[], input: ProxyCheckInput): CheckResult {
  if (!input.anchors) return skip(D.chains[0], D.chains[1], 'no trust bundle to compare with');
  const bad = withLeaf.filter((p) => leafAnchors(p.identity!, input.anchors!).length === 0).map((p) => `${proxyName(p)}: ${p.identity!.chain.map((c) => c.subject).join(' <- ')} chains to none of the bundle's anchors`);
  return verdict(D.chains, bad, 'peers that hold the current bundle refuse this certificate: the proxy must re-certify (it does within its refresh; restart it if it keeps failing)');
}

function leafIssuer(withLeaf: ProxyObservation[], input: ProxyCheckInput): CheckResult {
  if (!input.issuer) return skip(D.issuer[0], D.issuer[1], 'the current issuer is not known here');
  const want = input.issuer.fingerprint256;
  const bad = withLeaf.filter((p) => p.identity!.issuerFingerprint !== want).map((p) => `${proxyName(p)}: issued by ${p.identity!.chain[1]?.subject ?? p.identity!.issuerFingerprint ?? 'an unknown issuer'}, renews by ${renewalTime(p.identity!)}`);
  return verdict(D.issuer, bad, 'expected right after an issuer change: each proxy moves at its next renewal. If it persists, the identity service may have refused the new issuer (its issuer_rejected log line)', 'warn');
}

function renewalTime(id: ProxyIdentity): string {
  const nb = id.notBefore ? Date.parse(id.notBefore) : NaN;
  const na = id.notAfter ? Date.parse(id.notAfter) : NaN;
  return Number.isFinite(nb) && Number.isFinite(na) ? isoTime(new Date(nb + 0.7 * (na - nb))) : 'its next refresh';
}

function leafExpiry(withLeaf: ProxyObservation[], now: Date): CheckResult {
  const expired: string[] = [];
  const overdue: string[] = [];
  for (const p of withLeaf) {
    const nb = Date.parse(p.identity!.notBefore ?? '');
    const na = Date.parse(p.identity!.notAfter ?? '');
    if (!Number.isFinite(nb) || !Number.isFinite(na)) continue;
    if (na <= now.getTime()) expired.push(`${proxyName(p)}: its certificate expired at ${isoTime(new Date(na))} (${span(now.getTime() - na)} ago)`);
    else if (now.getTime() >= nb + LEAF_RENEWAL_OVERDUE_FRACTION * (na - nb)) overdue.push(`${proxyName(p)}: expires at ${isoTime(new Date(na))} (in ${span(na - now.getTime())}); renewal was due at 70% of its life`);
  }
  const hint = 'renewals are failing: the proxy log (identity_refresh_failed) and the identity service (/ready, Certify errors) say why';
  if (expired.length) return fail(D.expiry[0], D.expiry[1], [...expired, ...overdue], hint);
  return verdict(D.expiry, overdue, hint, 'warn');
}

function clockSkew(answered: ProxyObservation[], limits: SkewLimits): CheckResult {
  const worst: { level: 'warn' | 'fail'; line: string }[] = [];
  for (const p of answered) {
    const e = p.clock ? estimateSkew(p.clock) : null;
    const v = judgeSkew(e, limits);
    if (v === 'warn' || v === 'fail') worst.push({ level: v, line: `${proxyName(p)}: ${describeSkew(e as SkewEstimate)}` });
    const toIdentity = p.identity!.identityServiceSkewMs;
    if (toIdentity !== null) {
      const iv = judgeSkew({ skewMs: toIdentity, uncertaintyMs: 0 }, limits);
      if (iv === 'warn' || iv === 'fail') worst.push({ level: iv, line: `${proxyName(p)}: ${(Math.abs(toIdentity) / 1000).toFixed(1)}s off the identity service's clock` });
    }
  }
  const hint = `run NTP (chrony, systemd-timesyncd) on every node: beyond ${limits.failMs / 1000}s leaves look not-yet-valid or expired to peers`;
  const level = worst.some((w) => w.level === 'fail') ? 'fail' : 'warn';
  return verdict(D.skew, worst.map((w) => w.line), hint, level);
}
