/**
 * Runs a rotation: observe, find where it stands (rotation-state.ts), and take the next step
 * if its precondition holds, waiting for it up to `--wait` when only time is missing (a
 * proxy that has not reloaded yet). Without `--step` it goes on until the rotation is done
 * or a step cannot proceed; with `--step` it runs that one step, which is "already done"
 * when the observed state is past it. Every action is idempotent, so a run that stopped
 * anywhere is resumed by running it again.
 */
import { X509Certificate } from 'node:crypto';
import { checkIssuer, IssuerError } from '../../src/identity/check-issuer.js';
import { certificatesFromPem } from '../../src/pki/pem.js';
import { addAnchors, removeAnchors } from '../bundle.js';
import { resolveNewIssuer, peekNewIssuer, type CreatedFile, type NewIssuerSource } from './new-issuer.js';
import { observeIdentity, proxyState, type IdentityTarget, type ProxyFinder } from './observe.js';
import {
  ANCHOR_STEPS,
  anchorPrecondition,
  anchorProgress,
  anchorsToDrop,
  ISSUER_STEPS,
  issuerPrecondition,
  issuerProgress,
  met,
  type Condition,
  type ObservedState,
  type Progress,
  type StepName,
} from './rotation-state.js';
import type { RotationTarget } from './rotation-target.js';
import { summarizeState, type RotationReport, type StepOutcome } from './rotation-report.js';

export interface RotationConfig {
  kind: 'anchor' | 'issuer';
  /** Anchor rotation: the new anchor, and the anchors to drop (null: every other one, if it is one). */
  newAnchor?: { cert: X509Certificate; source: string };
  oldAnchors?: string[] | null;
  newIssuer: NewIssuerSource;
  /** Run only this step. */
  step?: StepName;
  /** How long a step may wait for its precondition. 0: do not wait. */
  waitMs: number;
  /** How often to look again while waiting. Default 2s. */
  pollMs?: number;
  target: RotationTarget;
  proxies: ProxyFinder;
  identity?: IdentityTarget;
  /** Progress lines for stderr. */
  progress: (line: string) => void;
  clock?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** A new issuer checked and ready to install, with the anchor it chains to. */
interface ReadyIssuer {
  certPem: string;
  keyPem: string;
  cert: X509Certificate;
  anchor: X509Certificate;
  origin: string;
}

export class RotationRunner {
  private readonly created: CreatedFile[] = [];
  private readonly clock: () => number;

  constructor(private readonly cfg: RotationConfig) {
    this.clock = cfg.clock ?? Date.now;
    if (cfg.kind === 'anchor' && !cfg.newAnchor) throw new Error('an anchor rotation needs the new anchor');
  }

  get steps(): readonly StepName[] {
    return this.cfg.kind === 'anchor' ? ANCHOR_STEPS : ISSUER_STEPS;
  }

  async run(): Promise<RotationReport> {
    const started = new Date(this.clock());
    const outcomes: StepOutcome[] = [];
    let state = await this.observe();
    const start = this.progressOf(state);
    const given = this.cfg.step;
    if (given && (start === 'done' || this.steps.indexOf(given) < this.steps.indexOf(start))) {
      outcomes.push({ step: given, status: 'already-done', summary: `already done: the rotation is at ${start}`, missing: [] });
    } else {
      // From where the state says, through the steps in order (a wait already satisfied is done at once).
      let step: StepName | undefined = given ?? (start === 'done' ? undefined : start);
      while (step) {
        const outcome = await this.runStep(step, state);
        outcomes.push(outcome.result);
        state = outcome.state;
        if (outcome.result.status !== 'done' || given) break;
        step = this.steps[this.steps.indexOf(step) + 1];
      }
    }
    const at = this.progressOf(state);
    return { kind: this.cfg.kind, target: this.cfg.target.description, startedAt: started.toISOString(), steps: outcomes, at, complete: at === 'done', state: summarizeState(state), created: this.created };
  }

  private async observe(): Promise<ObservedState> {
    const [snapshot, proxies, identity] = await Promise.all([this.cfg.target.read(), this.cfg.proxies.find(), this.cfg.identity ? observeIdentity(this.cfg.identity) : null]);
    const issuerChain = snapshot.issuerCertPem ? certificatesOf(snapshot.issuerCertPem) : [];
    return { bundle: snapshot.bundle, issuer: issuerChain[0] ?? null, issuerChain, proxies: proxies.observations.map(proxyState), proxiesKnown: proxies.known, identity };
  }

  private progressOf(s: ObservedState): Progress {
    if (this.cfg.kind === 'anchor') return anchorProgress(s, this.anchorPlan());
    return issuerProgress(s, { newIssuer: peekNewIssuer(this.cfg.newIssuer) });
  }

  private anchorPlan() {
    return { newAnchor: this.cfg.newAnchor!.cert, oldAnchors: this.cfg.oldAnchors ?? null };
  }

  private async runStep(step: StepName, first: ObservedState): Promise<{ result: StepOutcome; state: ObservedState }> {
    // What needs the operator is said first, before a new issuer is made or looked for.
    const early = this.precondition(step, first, null);
    if (early.blocking.length) return { result: this.notMet(step, early), state: first };
    let issuer: ReadyIssuer | null = null;
    if (step === 'move-issuer') {
      const found = await this.newIssuerFor(first);
      if ('refused' in found) return { result: { step, status: 'refused', summary: found.refused, missing: [found.refused] }, state: first };
      issuer = found;
    }
    const waited = await this.waitFor(step, first, (s) => this.precondition(step, s, issuer?.anchor ?? null));
    if (!met(waited.condition)) return { result: this.notMet(step, waited.condition), state: waited.state };
    const summary = await this.act(step, waited.state, issuer);
    return { result: { step, status: 'done', summary, missing: [] }, state: await this.observe() };
  }

  private precondition(step: StepName, s: ObservedState, issuerAnchor: X509Certificate | null): Condition {
    if (this.cfg.kind === 'anchor') return anchorPrecondition(step, s, this.anchorPlan());
    return issuerPrecondition(step, s, { newIssuer: peekNewIssuer(this.cfg.newIssuer) }, issuerAnchor);
  }

  /** Polls until `condition` holds, something blocks it, or --wait runs out; reports progress as it changes. */
  private async waitFor(step: StepName, first: ObservedState, condition: (s: ObservedState) => Condition): Promise<{ state: ObservedState; condition: Condition }> {
    const deadline = this.clock() + this.cfg.waitMs;
    const sleep = this.cfg.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let state = first;
    let last = '';
    for (;;) {
      const c = condition(state);
      if (met(c) || c.blocking.length || this.clock() >= deadline) return { state, condition: c };
      const now = `${step}: waiting for ${c.pending.length} more: ${c.pending.join('; ')}`;
      if (now !== last) this.cfg.progress(now);
      last = now;
      await sleep(Math.min(this.cfg.pollMs ?? 2000, Math.max(0, deadline - this.clock())));
      state = await this.observe();
    }
  }

  private notMet(step: StepName, c: Condition): StepOutcome {
    if (c.blocking.length) return { step, status: 'refused', summary: `cannot ${step}: ${c.blocking.join('; ')}`, missing: [...c.blocking, ...c.pending] };
    const waited = this.cfg.waitMs > 0 ? ` after waiting ${Math.round(this.cfg.waitMs / 1000)}s` : '';
    return { step, status: 'waiting', summary: `${step} is not done${waited}: still waiting for ${c.pending.length} more`, missing: c.pending };
  }

  /** The issuer move-issuer installs: resolved, checked as the identity service will check it, and (for an anchor rotation) signed by the new anchor. */
  private async newIssuerFor(s: ObservedState): Promise<{ refused: string } | ReadyIssuer> {
    const now = new Date(this.clock());
    const found = await resolveNewIssuer(this.newIssuerSource(), now);
    if (found.status === 'missing') {
      this.created.push(...found.created);
      return { refused: found.reason };
    }
    this.created.push(...found.created);
    const bundlePem = s.bundle.map((a) => a.toString()).join('');
    let anchor: X509Certificate;
    try {
      const issuer = checkIssuer({ certPem: found.certPem, keyPem: found.keyPem, bundlePem }, now);
      anchor = issuer.bundle.verify(certificatesOf(found.certPem), now).anchor;
    } catch (e) {
      const code = e instanceof IssuerError ? ` (${e.code})` : '';
      return { refused: `the new issuer (${found.origin}) would be refused by the identity service: ${(e as Error).message}${code}` };
    }
    if (this.cfg.kind === 'anchor' && anchor.fingerprint256 !== this.cfg.newAnchor!.cert.fingerprint256) {
      return { refused: `the new issuer (${found.origin}) chains to ${anchor.subject.replace(/\n/g, ', ')}, not to the new anchor ${this.cfg.newAnchor!.source}` };
    }
    return { ...found, anchor };
  }

  private newIssuerSource(): NewIssuerSource {
    const src = { ...this.cfg.newIssuer };
    if (this.cfg.kind === 'anchor' && src.caKeyPath && !src.caCertPath) src.caCertPath = this.cfg.newAnchor!.source;
    return src;
  }

  private async act(step: StepName, s: ObservedState, issuer: ReadyIssuer | null): Promise<string> {
    const t = this.cfg.target;
    if (step === 'add-anchor') {
      const { cert, source } = this.cfg.newAnchor!;
      const r = await t.updateBundle((anchors) => {
        const change = addAnchors(anchors, [{ cert, source }], new Date(this.clock()));
        return change.added.length ? change.anchors : null;
      });
      return r.changed ? `added the new anchor ${cert.fingerprint256} to the bundle${conflicts(r.conflicts)}` : 'the bundle already holds the new anchor';
    }
    if (step === 'move-issuer') {
      const r = await t.installIssuer(issuer!.certPem, issuer!.keyPem);
      return r.changed ? `installed the new issuer ${issuer!.cert.fingerprint256} (${issuer!.origin})${conflicts(r.conflicts)}` : 'the new issuer was already installed';
    }
    if (step === 'remove-anchor') {
      const drop = anchorsToDrop(s, this.anchorPlan()).fingerprints;
      const r = await t.updateBundle((anchors) => {
        const present = drop.filter((f) => anchors.some((a) => a.fingerprint256 === f));
        return present.length ? removeAnchors(anchors, present).anchors : null;
      });
      return r.changed ? `removed ${drop.join(', ')} from the bundle${conflicts(r.conflicts)}` : 'the old anchors were already gone';
    }
    return step === 'wait-anchor' ? 'every proxy reports the new anchor' : 'every leaf comes from the current issuer';
  }
}

const conflicts = (n: number): string => (n ? ` (after ${n} conflicting write${n === 1 ? '' : 's'}, redone on the fresh object)` : '');

/** The certificates of a PEM text, in order; an unreadable text holds none. */
function certificatesOf(pem: string): X509Certificate[] {
  try {
    return certificatesFromPem(pem, 'issuer certificate').map((d) => new X509Certificate(d));
  } catch {
    return [];
  }
}
