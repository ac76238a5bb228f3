/**
 * The proxy metrics the alert rules (src/telemetry/prometheus/) read, agreed with the proxy:
 * Linkerd's names and types, plus Lanyard's readiness gauge. Linkerd's dashboards and
 * alerts read the same names.
 */
export const PROXY_METRICS_CONTRACT: Record<string, 'counter' | 'gauge'> = {
  identity_cert_expiration_timestamp_seconds: 'gauge',
  inbound_tcp_authz_allow_total: 'counter',
  inbound_tcp_authz_deny_total: 'counter',
  tcp_open_total: 'counter',
  tcp_close_total: 'counter',
  tcp_read_bytes_total: 'counter',
  tcp_write_bytes_total: 'counter',
  lanyard_proxy_ready: 'gauge',
};
