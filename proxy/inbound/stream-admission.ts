/**
 * One stream on an inbound session (mux or relay), from its arrival to its verdict: the
 * record, the target check, the loop check, the limit and the policy. Both transports
 * answer the verdict their own way (an HTTP/2 status, a relay STATUS record), so the same
 * stream gets the same audit record whichever carried it.
 */
import { endpoint } from '../audit.js';
import type { ConnectionPipeline, ProxiedConnection } from '../io/connection-pipeline.js';
import type { Peer } from '../policy/peer.js';
import type { PresentedCertificate } from '../tls/presented-certificate.js';
import type { TLSSocket } from 'node:tls';
import type { InboundTarget } from './inbound-proxy.js';
import type { SessionPolicy } from './session-gate.js';

/** The peer of a session, as its streams' records name it. */
export interface SessionPeer {
  identity: string | null;
  spiffeId: string | null;
  /** The client certificate's serial and issuer, for every stream's record. */
  presented: PresentedCertificate;
  address: string;
  src: string;
  /** The host the session's connection was made to (its original destination when redirected). */
  dstHost: string;
  /** When the session must stop taking streams: the earlier NotAfter of the two certificates (epoch ms). */
  expiresAt: number | null;
}

export interface StreamAdmissionConfig {
  policy: { current(): SessionPolicy };
  streamTarget: (port: number, host: string) => InboundTarget | Error;
  ownPorts: () => number[];
  pipeline: ConnectionPipeline;
}

export interface StreamRequest {
  peer: SessionPeer;
  session: string;
  transport: 'mux' | 'relay';
  /** The port the stream names, or null when it names none (`authority` says what it said). */
  port: number | null;
  authority: string;
  /** A protocol error found by the transport (a mux stream that is not CONNECT). */
  protocolError?: string;
  /** The TLS connection that authenticated the session, or null for an unauthenticated peer. */
  authenticatedBy: TLSSocket | null;
}

export type StreamVerdict =
  | { allow: true; conn: ProxiedConnection; target: InboundTarget }
  /** Refused and already audited; the transport answers `status`. */
  | { allow: false; status: 400 | 403 | 405 | 503 };

export const peerOf = (p: SessionPeer): Peer => ({ tls: true, identity: p.identity, spiffeId: p.spiffeId, address: p.address });

export function admitStream(cfg: StreamAdmissionConfig, s: StreamRequest): StreamVerdict {
  const { peer, port } = s;
  const target = port === null ? new Error(`stream :authority ${JSON.stringify(s.authority)} names no port`) : cfg.streamTarget(port, peer.dstHost);
  const conn = cfg.pipeline.begin({
    peerIdentity: peer.identity,
    peerSpiffeId: peer.spiffeId,
    peerSerial: peer.presented.serial,
    peerIssuerFingerprint: peer.presented.issuerFingerprint,
    tls: true,
    transport: s.transport,
    session: s.session,
    src: peer.src,
    dst: target instanceof Error ? `${peer.dstHost}:${s.authority}` : endpoint(target.host, target.port),
    port: target instanceof Error ? port ?? 0 : target.port,
    decision: 'deny',
    rule: s.transport === 'mux' ? 'mux' : 'relay',
    reason: '',
  });
  conn.record.summaryKey = s.session;
  conn.authenticatedBy = s.authenticatedBy;
  const refuse = (status: 400 | 403 | 405 | 503, closeReason: string, reason?: string, rule?: string): StreamVerdict => {
    if (rule) conn.record.rule = rule;
    conn.close(closeReason, reason);
    return { allow: false, status };
  };
  if (s.protocolError) return refuse(405, 'protocol-error', s.protocolError);
  if (target instanceof Error) return refuse(400, 'no-target', target.message, 'target');
  if (cfg.ownPorts().includes(target.port)) return refuse(403, 'refused', `stream targets the proxy's own port ${target.port}: loop refused`, 'target');
  const authenticated = peer.identity !== null || peer.spiffeId !== null;
  if (!conn.admit() || !conn.classify(authenticated)) return refuse(503, 'limit', 'the inbound connection limit is reached', 'limit');
  const decision = cfg.policy.current().authorize(peerOf(peer), target.port);
  if (!conn.decide(decision)) return refuse(403, 'policy-deny');
  return { allow: true, conn, target };
}
