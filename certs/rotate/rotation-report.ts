/**
 * What `lanyard certs rotate` reports: each step it ran (done, already done, waiting, or
 * refused with what is missing), where the rotation stands, and the observed state. The
 * `-o json` output is this as-is; formatRotation renders it for people.
 */
import type { X509Certificate } from 'node:crypto';
import { isoTime } from '../format.js';
import { subjectOf } from '../x509-facts.js';
import type { CreatedFile } from './new-issuer.js';
import type { ObservedState, Progress, StepName } from './rotation-state.js';

export interface StepOutcome {
  step: StepName;
  /** `waiting`: only time is missing (re-run, or give --wait); `refused`: something needs the operator. */
  status: 'done' | 'already-done' | 'waiting' | 'refused';
  summary: string;
  /** Each thing still missing: a proxy without the anchor, a leaf from the old issuer, an absent file. */
  missing: string[];
}

export interface CertSummary {
  subject: string;
  fingerprintSha256: string;
  notAfter: string;
}

export interface StateSummary {
  bundle: CertSummary[];
  issuer: CertSummary | null;
  proxies: { name: string; error: string | null; anchors: string[]; issuerFingerprintSha256: string | null }[];
  identity: { name: string; error: string | null; servingIssuerSha256: string | null; anchors: string[] | null } | null;
}

export interface RotationReport {
  kind: 'anchor' | 'issuer';
  target: string;
  startedAt: string;
  steps: StepOutcome[];
  /** The step the rotation is at after this run, or `done`. */
  at: Progress;
  complete: boolean;
  state: StateSummary;
  /** Files this run wrote (a new issuer, a CSR). Keys are listed, never shown. */
  created: CreatedFile[];
}

const summary = (c: X509Certificate): CertSummary => ({ subject: subjectOf(c), fingerprintSha256: c.fingerprint256, notAfter: isoTime(c.validTo) });

export function summarizeState(s: ObservedState): StateSummary {
  return {
    bundle: s.bundle.map(summary),
    issuer: s.issuer ? summary(s.issuer) : null,
    proxies: s.proxies.map((p) => ({ name: p.name, error: p.error, anchors: p.anchors, issuerFingerprintSha256: p.issuerFingerprint })),
    identity: s.identity ? { name: s.identity.name, error: s.identity.error, servingIssuerSha256: s.identity.servingIssuer, anchors: s.identity.anchors } : null,
  };
}

/** The exit status: 0 when every step run is done (or was already), 1 when one is waiting or refused. */
export function rotationExitStatus(r: RotationReport): number {
  return r.steps.every((s) => s.status === 'done' || s.status === 'already-done') ? 0 : 1;
}

const MARK: Record<StepOutcome['status'], string> = { done: '✓', 'already-done': '✓', waiting: '…', refused: '×' };

export function formatRotation(r: RotationReport, resume: string): string {
  const lines = [`${r.kind === 'anchor' ? 'Trust-anchor' : 'Issuer'} rotation on ${r.target}`];
  for (const s of r.steps) {
    lines.push(`${MARK[s.status]} ${s.step}: ${s.summary}`);
    for (const m of s.missing) if (!s.summary.includes(m)) lines.push(`    ${m}`);
  }
  for (const f of r.created) lines.push(`  wrote ${f.path} (${f.contents}, mode ${f.mode.toString(8).padStart(4, '0')})`);
  lines.push(`Bundle: ${r.state.bundle.map((a) => `${a.subject} ${a.fingerprintSha256.slice(0, 11)}…`).join('; ') || '(empty)'}`);
  if (r.state.issuer) lines.push(`Issuer: ${r.state.issuer.subject} ${r.state.issuer.fingerprintSha256.slice(0, 11)}… until ${r.state.issuer.notAfter}`);
  if (r.complete) lines.push('The rotation is complete.');
  else if (r.at !== 'done') lines.push(`Next: ${r.at}. ${resume}`);
  return lines.join('\n');
}
