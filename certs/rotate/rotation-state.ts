/**
 * Where a rotation stands, derived from what is observed (the bundle, the issuer, what each
 * proxy and the identity service report), never from a record of what an earlier run did:
 * that is what makes re-running safe. Pure.
 *
 * Trust-anchor rotation: add-anchor → wait-anchor (every proxy reports it) → move-issuer (to
 * one signed by the new anchor) → wait-issuer (every leaf chains to it) → remove-anchor.
 * Issuer rotation under the same anchor: move-issuer → wait-issuer.
 */
import type { X509Certificate } from 'node:crypto';

export const ANCHOR_STEPS = ['add-anchor', 'wait-anchor', 'move-issuer', 'wait-issuer', 'remove-anchor'] as const;
export const ISSUER_STEPS = ['move-issuer', 'wait-issuer'] as const;
export type StepName = (typeof ANCHOR_STEPS)[number];
export type Progress = StepName | 'done';

export interface ProxyState {
  /** `namespace/pod (ip:port)` or the admin address. */
  name: string;
  /** Why it could not be read; null when it answered. */
  error: string | null;
  /** Fingerprints of the anchors it uses. */
  anchors: string[];
  /** Fingerprint of the certificate that signed its leaf; null before it has one. */
  issuerFingerprint: string | null;
}

export interface IdentityState {
  name: string;
  error: string | null;
  /** The issuer its serving certificate comes from (it renews that certificate whenever its issuer changes). */
  servingIssuer: string | null;
  /** The anchors of its loaded bundle (from /metrics); null when not read. */
  anchors: string[] | null;
}

export interface ObservedState {
  bundle: X509Certificate[];
  /** The issuer in the issuer directory or Secret (its first certificate); null when there is none. */
  issuer: X509Certificate | null;
  /** The issuer's file: the issuer, then any intermediates. */
  issuerChain: X509Certificate[];
  proxies: ProxyState[];
  /** False when no proxy was named or found and --no-proxies was not given: waits cannot be judged. */
  proxiesKnown: boolean;
  identity: IdentityState | null;
}

/** What stands between a step and its action: `blocking` needs the operator, `pending` only time. */
export interface Condition {
  blocking: string[];
  pending: string[];
}

export const met = (c: Condition): boolean => c.blocking.length === 0 && c.pending.length === 0;
const both = (...cs: Condition[]): Condition => ({ blocking: cs.flatMap((c) => c.blocking), pending: cs.flatMap((c) => c.pending) });
const NONE: Condition = { blocking: [], pending: [] };

export const NO_PROXIES =
  "no proxies to wait for: pass --proxy ADDR for each proxy's admin address (or --kubernetes to find meshed pods), or --no-proxies if none runs";

export function signedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  try {
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** Whether `chain` (issuer first) leads to `anchor` by signatures alone (validity is the checks' business). */
export function chainsTo(chain: readonly X509Certificate[], anchor: X509Certificate): boolean {
  if (!chain.length) return false;
  for (let i = 0; i + 1 < chain.length; i++) if (!signedBy(chain[i], chain[i + 1])) return false;
  const top = chain[chain.length - 1];
  return top.fingerprint256 === anchor.fingerprint256 || signedBy(top, anchor);
}

const short = (fp: string): string => `${fp.slice(0, 23)}…`;
const has = (bundle: readonly X509Certificate[], fp: string): boolean => bundle.some((a) => a.fingerprint256 === fp);

/** Every proxy (and the identity service, when it reports its bundle) uses the anchor `fp`. */
export function everyoneHasAnchor(s: ObservedState, fp: string, label = 'the new anchor'): Condition {
  if (!s.proxiesKnown) return { blocking: [NO_PROXIES], pending: [] };
  const pending: string[] = [];
  for (const p of s.proxies) {
    if (p.error) pending.push(`${p.name}: not answering (${p.error})`);
    else if (!p.anchors.includes(fp)) pending.push(`${p.name}: does not report ${label} ${short(fp)} yet`);
  }
  const id = s.identity;
  if (id?.error) pending.push(`identity service ${id.name}: not answering (${id.error})`);
  else if (id?.anchors && !id.anchors.includes(fp)) pending.push(`identity service ${id.name}: has not loaded ${label} yet`);
  return { blocking: [], pending };
}

/** Every proxy's leaf (and the identity service's serving certificate) comes from the issuer `fp`. */
export function everyLeafFrom(s: ObservedState, fp: string): Condition {
  if (!s.proxiesKnown) return { blocking: [NO_PROXIES], pending: [] };
  const pending: string[] = [];
  for (const p of s.proxies) {
    if (p.error) pending.push(`${p.name}: not answering (${p.error})`);
    else if (p.issuerFingerprint !== fp) pending.push(`${p.name}: its certificate is from ${p.issuerFingerprint ? `issuer ${short(p.issuerFingerprint)}` : 'no issuer yet'}, not the current one`);
  }
  const id = s.identity;
  if (id?.error) pending.push(`identity service ${id.name}: not answering (${id.error})`);
  else if (id && id.servingIssuer !== fp) pending.push(`identity service ${id.name}: still signs with issuer ${id.servingIssuer ? short(id.servingIssuer) : '(unknown)'} (it has not loaded the new one, or refused it: see its issuer_rejected log)`);
  return { blocking: [], pending };
}

export interface AnchorPlan {
  newAnchor: X509Certificate;
  /** Fingerprints of the anchors to drop; null: every anchor but the new one, if that is exactly one. */
  oldAnchors: string[] | null;
}

/** The anchors remove-anchor drops, or why they cannot be chosen. */
export function anchorsToDrop(s: ObservedState, plan: AnchorPlan): { fingerprints: string[]; problem: string | null } {
  const others = s.bundle.filter((a) => a.fingerprint256 !== plan.newAnchor.fingerprint256).map((a) => a.fingerprint256);
  if (plan.oldAnchors) {
    const unknown = plan.oldAnchors.filter((f) => f === plan.newAnchor.fingerprint256);
    if (unknown.length) return { fingerprints: [], problem: '--old-anchor names the new anchor' };
    return { fingerprints: plan.oldAnchors.filter((f) => has(s.bundle, f)), problem: null };
  }
  if (others.length > 1) return { fingerprints: [], problem: `the bundle holds ${others.length} anchors besides the new one (${others.map(short).join(', ')}): name the ones to drop with --old-anchor` };
  return { fingerprints: others, problem: null };
}

export function anchorProgress(s: ObservedState, plan: AnchorPlan): Progress {
  const fp = plan.newAnchor.fingerprint256;
  if (!has(s.bundle, fp)) return 'add-anchor';
  const moved = chainsTo(s.issuerChain, plan.newAnchor);
  if (!moved) return met(everyoneHasAnchor(s, fp)) ? 'move-issuer' : 'wait-anchor';
  if (!met(everyLeafFrom(s, s.issuer!.fingerprint256))) return 'wait-issuer';
  const drop = anchorsToDrop(s, plan);
  return drop.problem || drop.fingerprints.length ? 'remove-anchor' : 'done';
}

/** What must hold before `step` of an anchor rotation may act (for a wait step: what it waits for). */
export function anchorPrecondition(step: StepName, s: ObservedState, plan: AnchorPlan): Condition {
  const fp = plan.newAnchor.fingerprint256;
  const inBundle: Condition = has(s.bundle, fp) ? NONE : { blocking: ['the new anchor is not in the bundle: run the add-anchor step first'], pending: [] };
  const moved = chainsTo(s.issuerChain, plan.newAnchor);
  const issuerMoved: Condition = moved ? NONE : { blocking: ['the issuer is not yet one signed by the new anchor: run the move-issuer step first'], pending: [] };
  switch (step) {
    case 'add-anchor':
      return NONE;
    case 'wait-anchor':
    case 'move-issuer':
      return both(inBundle, inBundle.blocking.length ? NONE : everyoneHasAnchor(s, fp));
    case 'wait-issuer':
      return both(issuerMoved, moved ? everyLeafFrom(s, s.issuer!.fingerprint256) : NONE);
    case 'remove-anchor': {
      const drop = anchorsToDrop(s, plan);
      return both(issuerMoved, moved ? everyLeafFrom(s, s.issuer!.fingerprint256) : NONE, { blocking: drop.problem ? [drop.problem] : [], pending: [] });
    }
  }
}

export interface IssuerPlan {
  /** The issuer to move to, when known (given, or found in --out-dir). */
  newIssuer: X509Certificate | null;
}

export function issuerProgress(s: ObservedState, plan: IssuerPlan): Progress {
  if (!plan.newIssuer || s.issuer?.fingerprint256 !== plan.newIssuer.fingerprint256) return 'move-issuer';
  return met(everyLeafFrom(s, plan.newIssuer.fingerprint256)) ? 'done' : 'wait-issuer';
}

/** Preconditions of an issuer rotation; the new issuer's own soundness is checked when it is read. */
export function issuerPrecondition(step: StepName, s: ObservedState, plan: IssuerPlan, issuerAnchor: X509Certificate | null): Condition {
  if (step === 'move-issuer') {
    if (!issuerAnchor) return NONE;
    return everyoneHasAnchor(s, issuerAnchor.fingerprint256, "the new issuer's anchor");
  }
  const target = plan.newIssuer?.fingerprint256 ?? s.issuer?.fingerprint256;
  if (!target) return { blocking: ['there is no issuer'], pending: [] };
  if (plan.newIssuer && s.issuer?.fingerprint256 !== target) return { blocking: ['the new issuer is not installed: run the move-issuer step first'], pending: [] };
  return everyLeafFrom(s, target);
}
