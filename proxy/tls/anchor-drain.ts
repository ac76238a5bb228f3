/**
 * Removing a trust anchor must take effect on what is already open, or removing a
 * compromised one achieves nothing: a peer authenticated under it keeps its connections for
 * as long as it likes. So every mutually authenticated session and connection is registered
 * here with the TLS connection whose peer certificate authenticated it, and when anchors
 * leave the bundle, each one whose peer chain no longer verifies is drained:
 *
 * - `drain()` at once: a multiplexed session sends GOAWAY (its peer's new streams go to a
 *   fresh session, verified against the new bundle); a carried connection closes at its
 *   first quiet moment (proxy/io/quiet-close.ts), so a keep-alive client is not cut mid-request;
 * - `close()` when the grace period ends, for whatever is still open.
 *
 * TLS session resumption cannot bring an old authentication back: every change of anchors
 * makes new secure contexts (tls-state.ts), whose ticket keys are new, so tickets issued
 * before do not decrypt (inbound) and the client session cache is dropped (outbound); the
 * next handshake is a full one, against the new anchors.
 *
 * Verdicts are computed only when anchors are removed, from OpenSSL's copy of the peer chain
 * (nothing is stored per connection but the registration), once per TLS connection.
 * Registrations made shortly after a removal are judged at once: their handshake may have
 * started under the old anchors. A resumed session is the exception: its ticket can only come
 * from the secure contexts made after the removal (tickets of older contexts do not decrypt,
 * and the client cache is dropped), so its authentication was made under the anchors in force.
 *
 * A resumed session carries no peer chain (OpenSSL keeps only the peer's leaf on the server
 * side, and nothing on the client side), so when anchors are removed its leaf is completed with
 * the issuers this proxy knows: its own leaves' (everyone in the mesh is signed by the same
 * issuer, old or new) and those seen in full chains. One that cannot be completed, or has no
 * certificate to judge, is drained: unknown is not trusted.
 */
import { X509Certificate } from 'node:crypto';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { TrustBundle } from '../../src/pki/trust-bundle.js';
import type { Logger } from '../../src/telemetry/logger.js';
import type { Direction, ProxyMetrics } from '../metrics.js';

export interface DrainTarget {
  direction: Direction;
  kind: 'session' | 'connection';
  /** The TLS connection whose peer certificate authenticated this (a stream: its session's). */
  tls: TLSSocket;
  /** Stop taking new work and finish gracefully. Called once. */
  drain(): void;
  /** The grace period is over: close now. Called once, after drain(), unless it has gone. */
  close(): void;
}

export interface AnchorDrainConfig {
  /** Open work gets this long to finish after its anchor left. Default 10s. */
  graceMs?: number;
  logger: Logger;
  metrics?: ProxyMetrics;
  clock?: () => number;
}

/** Registrations made within this of a removal are judged at once (handshakes are bounded well below it). */
const RECENT_MS = 60_000;

/** Issuer certificates kept to complete resumed sessions' chains (a rotation has two or three). */
const MAX_KNOWN_ISSUERS = 16;

export class AnchorDrain {
  private readonly targets = new Set<DrainTarget>();
  /** Issuer certificates by fingerprint, oldest first. */
  private readonly issuers = new Map<string, X509Certificate>();
  private bundle: TrustBundle | null = null;
  private removedAt = -Infinity;
  /** Verdicts of the last removal, per TLS connection (many streams share one session). */
  private verdicts = new WeakMap<TLSSocket, boolean>();

  constructor(private readonly cfg: AnchorDrainConfig) {}

  /** Registers `t` until the returned function is called (when it closes). */
  add(t: DrainTarget): () => void {
    if (this.bundle && this.now() - this.removedAt < RECENT_MS && !t.tls.isSessionReused() && !this.trusted(t.tls, this.bundle)) {
      this.start(t);
      return () => undefined;
    }
    this.targets.add(t);
    return () => void this.targets.delete(t);
  }

  /** Issuer certificates (CA, not self-signed) to complete the chains of resumed sessions with. */
  learnIssuers(certs: readonly X509Certificate[]): void {
    for (const c of certs) {
      if (!c.ca || c.checkIssued(c)) continue;
      this.issuers.delete(c.fingerprint256);
      this.issuers.set(c.fingerprint256, c);
      if (this.issuers.size > MAX_KNOWN_ISSUERS) this.issuers.delete(this.issuers.keys().next().value!);
    }
  }

  /** How many are registered now (tests, and the drain log line). */
  get size(): number {
    return this.targets.size;
  }

  /**
   * The anchors in force are now `bundle`, and `removed` left it: drains every registration
   * whose peer chain does not verify to `bundle`. Returns how many were drained.
   */
  anchorsRemoved(bundle: TrustBundle, removed: readonly string[]): number {
    this.bundle = bundle;
    this.removedAt = this.now();
    this.verdicts = new WeakMap();
    let drained = 0;
    // Full handshakes first: their chains teach the issuers that complete resumed sessions'.
    const order = [...this.targets].sort((x, y) => Number(x.tls.isSessionReused()) - Number(y.tls.isSessionReused()));
    const untrusted = order.filter((t) => !this.trusted(t.tls, bundle));
    // Connections before sessions: at the end of the grace period a carried connection is
    // closed (and audited as such) before the session under it goes.
    for (const t of untrusted.sort((x, y) => Number(x.kind === 'session') - Number(y.kind === 'session'))) {
      this.targets.delete(t);
      this.start(t);
      drained++;
    }
    this.cfg.logger.info(
      { event: 'anchor_drain', removed, drained, kept: this.targets.size, grace_ms: this.graceMs },
      drained ? 'draining what was authenticated under removed trust anchors' : 'trust anchors removed; nothing open was authenticated under them',
    );
    return drained;
  }

  private get graceMs(): number {
    return this.cfg.graceMs ?? 10_000;
  }

  /** Drains `t` now and closes it when the grace period ends (closing what has gone is harmless). */
  private start(t: DrainTarget): void {
    this.cfg.metrics?.drained(t.direction, t.kind);
    t.drain();
    setTimeout(() => t.close(), this.graceMs).unref();
  }

  /** Whether the peer chain `tls` was authenticated with still verifies to `bundle`. */
  private trusted(tls: TLSSocket, bundle: TrustBundle): boolean {
    let v = this.verdicts.get(tls);
    if (v === undefined) this.verdicts.set(tls, (v = chainVerifies(tls, bundle, this.issuers, (c) => this.learnIssuers(c))));
    return v;
  }

  private now(): number {
    return (this.cfg.clock ?? Date.now)();
  }
}

/**
 * OpenSSL's peer chain (leaf first, completed from the trust store it verified against),
 * checked against `bundle` at a moment within the leaf's validity: the question is which
 * anchors it chains to, not whether it has expired since (expiry is handled elsewhere).
 * A socket already gone, or a peer without a certificate, has nothing to drain.
 */
function chainVerifies(tls: TLSSocket, bundle: TrustBundle, issuers: ReadonlyMap<string, X509Certificate>, learn: (certs: X509Certificate[]) => void): boolean {
  if (tls.destroyed) return true;
  const chain = peerChain(tls).filter((c, i) => i === 0 || !c.checkIssued(c));
  // No certificate at all: a resumed session on the client side (OpenSSL keeps none there).
  // What authenticated it is unknown, so it is not trusted; anything else has nothing to drain.
  if (chain.length === 0) return !tls.isSessionReused();
  const leaf = chain[0];
  const at = new Date(Math.min(Math.max(Date.now(), Date.parse(leaf.validFrom)), Date.parse(leaf.validTo)));
  const verifies = (c: X509Certificate[]) => {
    try {
      bundle.verify(c, at);
      return true;
    } catch {
      return false;
    }
  };
  if (chain.length > 1) {
    learn(chain.slice(1));
    return verifies(chain);
  }
  // A leaf alone (a resumed session): try each known issuer that signed it.
  if (verifies(chain)) return true;
  return [...issuers.values()].some((i) => leaf.checkIssued(i) && leaf.verify(i.publicKey) && verifies([leaf, i]));
}

function peerChain(tls: TLSSocket): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c: DetailedPeerCertificate | undefined = tls.getPeerCertificate(true);
  const seen = new Set<string>();
  while (c && c.raw && !seen.has(c.fingerprint256)) {
    seen.add(c.fingerprint256);
    out.push(new X509Certificate(c.raw));
    c = c.issuerCertificate;
  }
  return out;
}
