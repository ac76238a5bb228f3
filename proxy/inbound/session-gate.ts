/**
 * Whether a multiplexed session's peer may open streams at all. Pure. Explicit mode sends
 * every stream to the application port, so the session is judged on that port; transparent
 * mode lets a stream name any port, so the session is refused only when no port's policy
 * (the configured ports, then the default) would admit the peer. A refused session is told
 * so at once (GOAWAY) and kept only briefly, instead of holding a slot to answer 403s.
 */
import type { Decision, Peer } from '../policy/peer.js';

/** The part of the policy the gate reads (PeerPolicy). */
export interface SessionPolicy {
  authorize(peer: Peer, port: number): Decision;
  readonly config: { ports?: Record<string, unknown> };
}

/**
 * @param ports the ports streams may reach (explicit mode: the app port), or null for any
 * @returns the first allowing decision, or a deny naming why no port admits the peer
 */
export function sessionVerdict(policy: SessionPolicy, peer: Peer, ports: number[] | null): Decision {
  if (ports !== null) {
    let last: Decision | null = null;
    for (const p of ports) {
      last = policy.authorize(peer, p);
      if (last.allow) return last;
    }
    return last ?? { allow: true, audit: false, rule: 'session', reason: 'no port to judge the session by: each stream is judged alone' };
  }
  const configured = Object.keys(policy.config.ports ?? {}).map(Number);
  for (const p of configured) {
    const d = policy.authorize(peer, p);
    if (d.allow) return d;
  }
  let unconfigured = 1;
  while (configured.includes(unconfigured)) unconfigured++;
  const d = policy.authorize(peer, unconfigured);
  if (d.allow) return d;
  return { allow: false, audit: false, rule: d.rule, reason: `no port's policy admits this peer (${d.reason})` };
}
