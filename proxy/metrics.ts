/**
 * The proxy's Prometheus metrics. Where linkerd2-proxy measures the same thing, the name and
 * labels are Linkerd's, so its dashboards and alerts read a Lanyard proxy as they read
 * theirs (transport metrics `tcp_*` with `direction`, `peer`, `tls`, `client_id` /
 * `server_id` / `no_tls_reason`; `inbound_tcp_authz_allow_total` / `_deny_total`;
 * `identity_cert_expiration_timestamp_seconds`). What Linkerd has no metric for is
 * `lanyard_*`: decisions and close reasons, refusals before a decision, detection,
 * handshakes, sessions, readiness and the build.
 *
 * A "connection" here is what the audit records: a classic connection, a multiplexed stream
 * (from the application's side it is one TCP connection) or a multiplexed session (one TCP
 * connection from the peer). `tcp_open_connections` is therefore the slots in use.
 */
import { registerBuildInfo } from '../src/telemetry/build-info.js';
import { Counter, Gauge, Histogram, type Registry } from '../src/telemetry/metrics.js';
import type { X509Certificate } from 'node:crypto';
import { peerName, type ConnectionRecord } from './audit.js';
import type { ReissueCause } from './identity/identity-source.js';
import type { Decision } from './policy/peer.js';
import type { WorkloadCertificate } from './tls/tls-state.js';

export type Direction = 'inbound' | 'outbound';
export type DetectOutcome = 'tls-local' | 'tls-passthrough' | 'plaintext' | 'timeout' | 'malformed' | 'closed';

const TCP_LABELS = ['direction', 'peer', 'tls', 'client_id', 'server_id', 'no_tls_reason'] as const;
type TcpLabel = (typeof TCP_LABELS)[number];
type Labels = Partial<Record<TcpLabel, string>>;

/** Close reasons of a connection that ended as it should (Linkerd's `classification="success"`). */
const CLEAN = new Set(['eof', 'idle-timeout', 'idle', 'expired', 'closed', 'peer-left']);

export class ProxyMetrics {
  private readonly certExpiry: Gauge;
  private readonly lastRefresh: Gauge;
  private readonly refreshes: Counter<'result'>;
  private readonly tcpOpen: Counter<TcpLabel>;
  private readonly tcpOpenNow: Gauge<TcpLabel>;
  private readonly tcpClose: Counter<TcpLabel | 'classification'>;
  private readonly tcpRead: Counter<TcpLabel>;
  private readonly tcpWrite: Counter<TcpLabel>;
  private readonly authzAllow: Counter<'target_addr' | 'srv_name' | 'authz_name' | 'tls' | 'client_id'>;
  private readonly authzDeny: Counter<'target_addr' | 'srv_name' | 'tls' | 'client_id'>;
  private readonly closed: Counter<'direction' | 'peer_identity' | 'decision' | 'reason'>;
  private readonly sessions: Gauge<'direction'>;
  private readonly handshake: Histogram<'direction'>;
  private readonly resumed: Counter<'direction'>;
  private readonly detect: Counter<'outcome'>;
  private readonly refused: Counter<'direction' | 'reason'>;
  private readonly reissues: Counter<'cause'>;
  private readonly issuerInfo: Gauge<'fingerprint' | 'subject'>;
  private readonly anchorCount: Gauge;
  private readonly anchorExpiry: Gauge;
  private readonly bundleReloads: Counter<'result'>;
  private readonly skew: Gauge;
  private readonly drains: Counter<'direction' | 'kind'>;
  private readonly auditRecords: Counter<'event'>;
  private readonly auditErrors: Counter<'during'>;
  private readonly auditSubs: Gauge;
  private readonly auditDrops: Counter;
  private edgeRows: () => number = () => 0;

  /** @param ready read at each scrape for `lanyard_proxy_ready` */
  constructor(
    readonly registry: Registry,
    ready: () => boolean = () => false,
  ) {
    const r = [registry];
    registerBuildInfo(registry, 'proxy');
    // Linkerd's names.
    this.certExpiry = new Gauge({ name: 'identity_cert_expiration_timestamp_seconds', help: 'When the workload certificate in use expires (NotAfter, seconds since the epoch).', registers: r });
    // Linkerd's identity_cert_refresh_count is not exported: promtool refuses a counter named
    // *_count; lanyard_proxy_identity_refreshes_total{result="ok"} counts the same.
    this.tcpOpen = new Counter({ name: 'tcp_open_total', help: 'Connections opened (decided), by direction and peer identity.', labelNames: TCP_LABELS, registers: r });
    this.tcpOpenNow = new Gauge({ name: 'tcp_open_connections', help: 'Connections open now: classic connections, multiplexed streams and sessions (the slots in use).', labelNames: TCP_LABELS, registers: r });
    this.tcpClose = new Counter({ name: 'tcp_close_total', help: 'Connections closed, by direction, peer identity and classification (success: closed cleanly).', labelNames: [...TCP_LABELS, 'classification'], registers: r });
    this.tcpRead = new Counter({ name: 'tcp_read_bytes_total', help: 'Bytes received from the peer, counted when the connection closes.', labelNames: TCP_LABELS, registers: r });
    this.tcpWrite = new Counter({ name: 'tcp_write_bytes_total', help: 'Bytes sent to the peer, counted when the connection closes.', labelNames: TCP_LABELS, registers: r });
    const authz = ['target_addr', 'srv_name', 'tls', 'client_id'] as const;
    this.authzAllow = new Counter({ name: 'inbound_tcp_authz_allow_total', help: 'Inbound connections and streams the policy allowed (authz_name: the rule).', labelNames: [...authz, 'authz_name'], registers: r });
    this.authzDeny = new Counter({ name: 'inbound_tcp_authz_deny_total', help: 'Inbound connections and streams the policy denied.', labelNames: authz, registers: r });
    // Lanyard's own.
    this.lastRefresh = new Gauge({ name: 'lanyard_proxy_identity_last_refresh_timestamp_seconds', help: 'When the workload certificate was last installed.', registers: r });
    this.refreshes = new Counter({ name: 'lanyard_proxy_identity_refreshes_total', help: 'Certificate refresh attempts, by result (ok, error).', labelNames: ['result'], registers: r });
    this.closed = new Counter({ name: 'lanyard_proxy_connections_closed_total', help: 'Connections closed, by direction, peer identity, decision and close reason (every decision is counted, logged or summarized).', labelNames: ['direction', 'peer_identity', 'decision', 'reason'], registers: r });
    this.sessions = new Gauge({ name: 'lanyard_proxy_mux_sessions_open', help: 'Multiplexed sessions open now.', labelNames: ['direction'], registers: r });
    this.handshake = new Histogram({
      name: 'lanyard_proxy_tls_handshake_duration_seconds',
      help: 'TLS handshake time.',
      labelNames: ['direction'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: r,
    });
    this.resumed = new Counter({ name: 'lanyard_proxy_tls_sessions_resumed_total', help: 'TLS handshakes that resumed a session (no certificate exchange).', labelNames: ['direction'], registers: r });
    this.detect = new Counter({ name: 'lanyard_proxy_inbound_detect_total', help: 'Inbound protocol detection outcomes.', labelNames: ['outcome'], registers: r });
    this.refused = new Counter({ name: 'lanyard_proxy_connections_refused_total', help: 'Connections refused before a decision (limit, unauthenticated-share, no-identity).', labelNames: ['direction', 'reason'], registers: r });
    this.auditRecords = new Counter({ name: 'lanyard_proxy_audit_records_total', help: 'Audit records written to the audit sink, by event (connection, mux_session).', labelNames: ['event'], registers: r });
    this.auditErrors = new Counter({ name: 'lanyard_proxy_audit_sink_errors_total', help: 'Audit sink failures, by when (write: a record was lost; reopen: writing goes on to the old file).', labelNames: ['during'], registers: r });
    this.auditSubs = new Gauge({ name: 'lanyard_proxy_audit_subscribers', help: 'Live /audit subscribers (lanyard tap, the dashboard).', registers: r });
    this.auditDrops = new Counter({ name: 'lanyard_proxy_audit_stream_dropped_total', help: 'Audit records dropped for a /audit subscriber too slow to take them (the audit sink still has every one).', registers: r });
    const edges = () => this.edgeRows();
    new Gauge({
      name: 'lanyard_proxy_edges',
      help: 'Rows in the edge table (/edges); at the limit, new edges are counted in "other".',
      registers: r,
      collect() {
        this.set(edges());
      },
    });
    for (const event of ['connection', 'mux_session']) this.auditRecords.inc({ event }, 0);
    for (const during of ['write', 'reopen']) this.auditErrors.inc({ during }, 0);
    new Gauge({
      name: 'lanyard_proxy_ready',
      help: '1 while the proxy serves with a valid certificate (what /ready says), else 0.',
      registers: r,
      collect() {
        this.set(ready() ? 1 : 0);
      },
    });
    for (const direction of ['inbound', 'outbound'] as const) this.sessions.set({ direction }, 0);
    // Rotation (issue 10).
    this.reissues = new Counter({
      name: 'lanyard_proxy_identity_reissues_total',
      help: 'Certificate re-issues started, by cause: renewal, issuer-changed, issuer-check (no status stream), leaf-untrusted (the bundle no longer verifies the leaf), files-changed (static mode).',
      labelNames: ['cause'],
      registers: r,
    });
    for (const cause of ['renewal', 'issuer-changed', 'issuer-check', 'leaf-untrusted'] satisfies ReissueCause[]) this.reissues.inc({ cause }, 0);
    this.issuerInfo = new Gauge({ name: 'lanyard_proxy_identity_cert_issuer_info', help: 'The issuer of the workload certificate in use (always 1): its SHA-256 fingerprint and subject.', labelNames: ['fingerprint', 'subject'], registers: r });
    this.anchorCount = new Gauge({ name: 'lanyard_proxy_trust_anchors', help: 'Trust anchors in use.', registers: r });
    this.anchorExpiry = new Gauge({ name: 'lanyard_proxy_trust_anchors_earliest_expiry_timestamp_seconds', help: 'The earliest NotAfter among the trust anchors in use.', registers: r });
    this.bundleReloads = new Counter({ name: 'lanyard_proxy_trust_bundle_reloads_total', help: 'Trust bundle file loads, by result: ok, refused (no CA certificates), error (unreadable); each distinct failure counted once.', labelNames: ['result'], registers: r });
    for (const result of ['ok', 'refused', 'error']) this.bundleReloads.inc({ result }, 0);
    this.skew = new Gauge({ name: 'lanyard_proxy_identity_service_clock_skew_seconds', help: "The identity service's clock minus this proxy's, from its issuer status stream (absent before the first status).", registers: r });
    this.drains = new Counter({
      name: 'lanyard_proxy_anchor_drains_total',
      help: 'Sessions and connections drained because the anchor their peer was authenticated under left the trust bundle.',
      labelNames: ['direction', 'kind'],
      registers: r,
    });
  }

  reissued(cause: ReissueCause): void {
    this.reissues.inc({ cause });
  }

  /** The issuer of the leaf now in use (one series). */
  leafIssuer(fingerprint: string | null, subject: string): void {
    this.issuerInfo.reset();
    if (fingerprint) this.issuerInfo.set({ fingerprint, subject }, 1);
  }

  anchorsInUse(anchors: readonly X509Certificate[]): void {
    this.anchorCount.set(anchors.length);
    const earliest = Math.min(...anchors.map((a) => Date.parse(a.validTo)));
    if (Number.isFinite(earliest)) this.anchorExpiry.set(earliest / 1000);
  }

  trustBundleReloaded(result: 'ok' | 'refused' | 'error'): void {
    this.bundleReloads.inc({ result });
  }

  clockSkew(seconds: number): void {
    this.skew.set(seconds);
  }

  drained(direction: Direction, kind: 'session' | 'connection'): void {
    this.drains.inc({ direction, kind });
  }

  identityRefreshed(cert: WorkloadCertificate | null, result: 'ok' | 'error' | 'success' | 'failure'): void {
    this.refreshes.inc({ result: result === 'ok' || result === 'success' ? 'ok' : 'error' });
    if (cert) {
      this.certExpiry.set(cert.notAfter.getTime() / 1000);
      this.lastRefresh.set(cert.installedAt.getTime() / 1000);
    }
  }

  connectionOpened(r: ConnectionRecord): void {
    const labels = tcpLabels(r);
    this.tcpOpen.inc(labels);
    this.tcpOpenNow.inc(labels);
    if (r.streams !== undefined) this.sessions.inc({ direction: r.direction });
  }

  connectionClosed(r: ConnectionRecord): void {
    const labels = tcpLabels(r);
    this.tcpOpenNow.dec(labels);
    this.tcpClose.inc({ ...labels, classification: r.decision !== 'deny' && CLEAN.has(r.closeReason) ? 'success' : 'failure' });
    if (r.rx) this.tcpRead.inc(labels, r.rx);
    if (r.tx) this.tcpWrite.inc(labels, r.tx);
    this.closed.inc({ direction: r.direction, peer_identity: peerName(r), decision: r.decision, reason: r.closeReason });
    if (r.streams !== undefined) this.sessions.dec({ direction: r.direction });
  }

  /** A policy decision on an inbound connection or stream (not a session's verdict). */
  authorized(r: ConnectionRecord, d: Decision): void {
    const tls = r.tls ? { tls: 'true', client_id: r.peerIdentity ?? r.peerSpiffeId ?? '' } : { tls: 'no_identity', client_id: '' };
    // srv_name: what the rule belongs to, `port:8080` or the default policy (`default:deny`).
    const common = { target_addr: r.dst, srv_name: d.rule.split(/[/ ]/)[0], ...tls };
    if (d.allow) this.authzAllow.inc({ ...common, authz_name: d.rule });
    else this.authzDeny.inc(common);
  }

  /** Outbound sessions are not audited (their streams are); they are counted. */
  outboundSession(delta: 1 | -1): void {
    this.sessions.inc({ direction: 'outbound' }, delta);
  }

  audited(event: string): void {
    this.auditRecords.inc({ event });
  }

  auditWriteFailed(during: 'write' | 'reopen'): void {
    this.auditErrors.inc({ during });
  }

  auditSubscribers(delta: 1 | -1): void {
    this.auditSubs.inc(delta);
  }

  auditDropped(): void {
    this.auditDrops.inc();
  }

  /** `lanyard_proxy_edges` reads the table's size at each scrape. */
  watchEdges(size: () => number): void {
    this.edgeRows = size;
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

/**
 * Linkerd's transport labels: inbound records describe the peer that connected (`peer="src"`,
 * `client_id`), outbound ones the destination (`peer="dst"`, `server_id`, the identity it had
 * to prove). Without TLS, `tls="no_identity"` and why.
 */
function tcpLabels(r: ConnectionRecord): Labels {
  if (r.direction === 'inbound') {
    return r.tls
      ? { direction: 'inbound', peer: 'src', tls: 'true', client_id: r.peerIdentity ?? r.peerSpiffeId ?? '' }
      : { direction: 'inbound', peer: 'src', tls: 'no_identity', no_tls_reason: 'no_tls_from_remote' };
  }
  return r.expectedIdentity
    ? { direction: 'outbound', peer: 'dst', tls: 'true', server_id: r.expectedIdentity }
    : { direction: 'outbound', peer: 'dst', tls: 'no_identity', no_tls_reason: 'not_provided_by_service_discovery' };
}
