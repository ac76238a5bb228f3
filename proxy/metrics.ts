/**
 * The proxy's Prometheus metrics. Counters are labelled by direction, peer identity and
 * decision so an operator can see who talks to whom without reading logs; the peer label is
 * the verified identity or `unauthenticated`.
 */
import { Counter, Gauge, Histogram, type Registry } from '../src/telemetry/metrics.js';
import { peerName, type ConnectionRecord } from './audit.js';
import type { WorkloadCertificate } from './tls/tls-state.js';

export type Direction = 'inbound' | 'outbound';
export type DetectOutcome = 'tls-local' | 'tls-passthrough' | 'plaintext' | 'timeout' | 'malformed' | 'closed';

export class ProxyMetrics {
  private readonly certExpiry: Gauge;
  private readonly lastRefresh: Gauge;
  private readonly refreshes: Counter<'result'>;
  private readonly opened: Counter<'direction' | 'peer_identity' | 'decision'>;
  private readonly closed: Counter<'direction' | 'peer_identity' | 'decision' | 'reason'>;
  private readonly active: Gauge<'direction'>;
  private readonly bytes: Counter<'direction' | 'flow'>;
  private readonly handshake: Histogram<'direction'>;
  private readonly resumed: Counter<'direction'>;
  private readonly detect: Counter<'outcome'>;
  private readonly refused: Counter<'direction' | 'reason'>;

  constructor(readonly registry: Registry) {
    const r = [registry];
    this.certExpiry = new Gauge({ name: 'lanyard_proxy_identity_cert_expiry_timestamp_seconds', help: 'NotAfter of the workload certificate in use.', registers: r });
    this.lastRefresh = new Gauge({ name: 'lanyard_proxy_identity_last_refresh_timestamp_seconds', help: 'When the workload certificate was last installed.', registers: r });
    this.refreshes = new Counter({ name: 'lanyard_proxy_identity_refreshes_total', help: 'Certify attempts, by result.', labelNames: ['result'], registers: r });
    this.opened = new Counter({ name: 'lanyard_proxy_connections_opened_total', help: 'Connections accepted and decided, by direction, peer identity and decision.', labelNames: ['direction', 'peer_identity', 'decision'], registers: r });
    this.closed = new Counter({ name: 'lanyard_proxy_connections_closed_total', help: 'Connections closed, by direction, peer identity, decision and close reason.', labelNames: ['direction', 'peer_identity', 'decision', 'reason'], registers: r });
    this.active = new Gauge({ name: 'lanyard_proxy_connections_active', help: 'Connections open now.', labelNames: ['direction'], registers: r });
    this.bytes = new Counter({ name: 'lanyard_proxy_bytes_total', help: 'Application bytes moved, by direction and flow (rx: from the peer, tx: to the peer).', labelNames: ['direction', 'flow'], registers: r });
    this.handshake = new Histogram({
      name: 'lanyard_proxy_tls_handshake_duration_seconds',
      help: 'TLS handshake time.',
      labelNames: ['direction'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: r,
    });
    this.resumed = new Counter({ name: 'lanyard_proxy_tls_sessions_resumed_total', help: 'TLS handshakes that resumed a session (no certificate exchange).', labelNames: ['direction'], registers: r });
    this.detect = new Counter({ name: 'lanyard_proxy_inbound_detect_total', help: 'Inbound protocol detection outcomes.', labelNames: ['outcome'], registers: r });
    this.refused = new Counter({ name: 'lanyard_proxy_connections_refused_total', help: 'Connections refused before a decision (limit, no identity yet, no route).', labelNames: ['direction', 'reason'], registers: r });
    this.active.set({ direction: 'inbound' }, 0);
    this.active.set({ direction: 'outbound' }, 0);
  }

  identityRefreshed(cert: WorkloadCertificate | null, result: 'success' | 'failure'): void {
    this.refreshes.inc({ result });
    if (cert) {
      this.certExpiry.set(cert.notAfter.getTime() / 1000);
      this.lastRefresh.set(cert.installedAt.getTime() / 1000);
    }
  }

  connectionOpened(r: ConnectionRecord): void {
    this.opened.inc({ direction: r.direction, peer_identity: peerName(r), decision: r.decision });
    this.active.inc({ direction: r.direction });
  }

  connectionClosed(r: ConnectionRecord): void {
    const direction = r.direction;
    this.closed.inc({ direction, peer_identity: peerName(r), decision: r.decision, reason: r.closeReason });
    this.active.dec({ direction });
    if (r.rx) this.bytes.inc({ direction, flow: 'rx' }, r.rx);
    if (r.tx) this.bytes.inc({ direction, flow: 'tx' }, r.tx);
  }

  handshakeDone(direction: Direction, seconds: number, resumed: boolean): void {
    this.handshake.observe({ direction }, seconds);
    if (resumed) this.resumed.inc({ direction });
  }

  detected(outcome: DetectOutcome): void {
    this.detect.inc({ outcome });
  }

  refusedEarly(direction: Direction, reason: string): void {
    this.refused.inc({ direction, reason });
  }
}
