/**
 * The proxy's configuration, from `LANYARD_PROXY_*` environment variables (the CLI maps each
 * flag onto its variable). Every value is checked at start-up and an error names the
 * variable, so a bad manifest fails at once instead of on the first connection.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { isDnsName, TrustDomain } from '../src/pki/names.js';
import { parseAddress, parsePort, type HostPort } from '../src/util/address.js';
import { parseDuration } from '../src/util/duration.js';
import { describeSource, parseBoolean, parseChoice, parseInteger } from '../src/util/value-error.js';
import { parseRoutes, type Route } from './outbound/routes.js';
import { parseAppProbes, type AppProbes } from './probes/app-probes.js';
import { isIP } from 'node:net';

export interface ProxyConfig {
  identityAddr: string;
  identityName: string;
  tokenFile: string;
  /** PEM text of the trust anchors. */
  trustAnchorsPem: string;
  /** The file they came from, when given as a path (reloaded live). */
  trustAnchorsFile: string | null;
  localIdentity: string;
  identityDir: string | null;
  /** Static certificate mode: chain + key files instead of Certify. */
  certFile: string | null;
  keyFile: string | null;
  inbound: HostPort;
  outbound: HostPort;
  admin: HostPort;
  appPort: number | null;
  routes: Route[];
  routesFile: string | null;
  unmeshed: 'allow' | 'deny';
  policyFile: string | null;
  /** Transparent mode: iptables redirects; original destinations; discovery. */
  transparent: boolean;
  discoveryAddr: string | null;
  /** Verify the discovery service over TLS as this identity (absent: plaintext). */
  discoveryName: string | null;
  detectTimeoutMs: number;
  handshakeTimeoutMs: number;
  connectTimeoutMs: number;
  idleTimeoutMs: number;
  /** HTTP/2 PING keepalive on mux sessions and gRPC channels: a silent peer is found within this (0: off). */
  keepaliveMs: number;
  /** A session repeating one refusal: its first diagnostic line in full, then one summary line per this. */
  auditSummaryIntervalMs: number;
  /** Audit records go to this file (append-only, reopened on SIGHUP); null: stdout. */
  auditFile: string | null;
  /** Rows of the edge table behind /edges. */
  edgeLimit: number;
  maxConnections: number;
  /** Inbound slots only authenticated peers may take (default a tenth of maxConnections). */
  authenticatedReserve: number;
  minRefreshMs: number;
  /** After the identity service's issuer changes, a leaf from the new one within this (jittered). */
  reissueWindowMs: number;
  /** The identity service's clock may differ from ours by this before it is logged. */
  clockSkewAllowanceMs: number;
  /** What a removed trust anchor authenticated gets to finish before it is closed. */
  anchorDrainGraceMs: number;
  shutdownGraceMs: number;
  /** Offer the multiplexed transport to upstream proxies. */
  multiplex: boolean;
  /** Offer and serve the relay transport (proxy/relay; needs the native addon), before mux. */
  relay: boolean;
  /** The app's kubelet probes injection moved to the admin port (admin path -> probe). Default none. */
  appProbes: AppProbes;
  /** Where app probes are sent: the pod's IP, as the kubelet sends them. Default 127.0.0.1. */
  podIp: string;
  logLevel: string;
}

/** name → [default, description]; the README's table is generated from the same facts. */
export const PROXY_ENV: Record<string, [string | undefined, string]> = {
  LANYARD_PROXY_IDENTITY_ADDR: ['127.0.0.1:8080', 'identity service address (host:port)'],
  LANYARD_PROXY_IDENTITY_NAME: [undefined, "the identity service's expected identity (default lanyard-identity.<control-ns>.serviceaccount.identity.<control-ns>.<td>)"],
  LANYARD_PROXY_TOKEN_FILE: ['/var/run/secrets/tokens/lanyard-identity-token', 'service-account token presented to Certify (re-read every time)'],
  LANYARD_PROXY_TRUST_ANCHORS: [undefined, 'trust anchors: PEM text or a file path (a file is reloaded when it changes); required'],
  LANYARD_PROXY_LOCAL_IDENTITY: [undefined, 'this workload\'s identity, <sa>.<ns>.serviceaccount.identity.<control-ns>.<td>; required'],
  LANYARD_PROXY_IDENTITY_DIR: [undefined, 'write the key (0600) and certificate here; default: memory only'],
  LANYARD_PROXY_CERT_FILE: [undefined, 'static mode: certificate chain file used instead of Certify (with --key-file; reloaded on change)'],
  LANYARD_PROXY_KEY_FILE: [undefined, 'static mode: private key file'],
  LANYARD_PROXY_INBOUND_ADDR: ['0.0.0.0:4143', 'inbound listener'],
  LANYARD_PROXY_OUTBOUND_ADDR: ['127.0.0.1:4140', 'outbound listener'],
  LANYARD_PROXY_ADMIN_ADDR: ['0.0.0.0:4191', 'admin HTTP: /ready /live /metrics /identity'],
  LANYARD_PROXY_APP_PORT: [undefined, 'explicit mode: where inbound delivers (127.0.0.1:<port>)'],
  LANYARD_PROXY_ROUTES_FILE: [undefined, 'outbound routes file (YAML or JSON)'],
  LANYARD_PROXY_ROUTES: [undefined, 'outbound routes inline (same format)'],
  LANYARD_PROXY_OUTBOUND_UNMESHED: ['allow', 'unmeshed destinations: allow (plain TCP) or deny'],
  LANYARD_PROXY_DEFAULT_POLICY: ['all-unauthenticated', 'inbound default policy'],
  LANYARD_PROXY_POLICY_FILE: [undefined, 'inbound policy file (YAML or JSON), reloaded live'],
  LANYARD_PROXY_POLICY: [undefined, 'inbound policy inline (same format)'],
  LANYARD_PROXY_CLUSTER_NETWORKS: ['10.0.0.0/8,100.64.0.0/10,172.16.0.0/12,192.168.0.0/16,fd00::/8', 'cluster networks for cluster-* policies'],
  LANYARD_PROXY_TRANSPARENT: ['false', 'transparent mode: take original destinations from iptables redirects (needs the native addon) and ask discovery'],
  LANYARD_PROXY_DISCOVERY_ADDR: [undefined, 'discovery service address (host:port); required in transparent mode'],
  LANYARD_PROXY_DISCOVERY_NAME: [undefined, "discovery service's expected identity: connect with TLS verified against the anchors (default: plaintext)"],
  LANYARD_PROXY_DETECT_TIMEOUT: ['10s', 'inbound protocol detection timeout'],
  LANYARD_PROXY_HANDSHAKE_TIMEOUT: ['10s', 'TLS handshake timeout'],
  LANYARD_PROXY_CONNECT_TIMEOUT: ['5s', 'TCP connect timeout (upstream and application)'],
  LANYARD_PROXY_IDLE_TIMEOUT: ['1h', 'close a connection idle this long (0: never)'],
  LANYARD_PROXY_KEEPALIVE: ['20s', 'HTTP/2 PING keepalive on mux sessions and the identity and discovery channels: a peer that stops answering is dropped within this (0: off)'],
  LANYARD_PROXY_AUDIT_FILE: [undefined, 'write audit records to this file (append-only, created 0640, reopened on SIGHUP) instead of stdout'],
  LANYARD_PROXY_AUDIT_SUMMARY_INTERVAL: ['10s', 'in the diagnostic log, a mux session that repeats one refusal gets its first line in full, then one line with the count per this interval (the audit has every record)'],
  LANYARD_PROXY_EDGE_LIMIT: ['1000', 'edges (client, server, port) counted one by one for /edges; the rest are folded into "other"'],
  LANYARD_PROXY_MAX_CONNECTIONS: ['10000', 'concurrent connections per direction (inbound: classic connections, mux sessions and streams)'],
  LANYARD_PROXY_AUTHENTICATED_RESERVE: [undefined, 'inbound slots only peers with a verified certificate may take (default: a tenth of the connection limit)'],
  LANYARD_PROXY_MIN_REFRESH: ['10s', 'certificate refresh floor (never later than expiry)'],
  LANYARD_PROXY_REISSUE_WINDOW: ['60s', "after the identity service's issuer changes, re-certify at a random moment within this window (spreads the proxies' Certify calls)"],
  LANYARD_PROXY_CLOCK_SKEW_ALLOWANCE: ['5s', "log when the identity service's clock differs from this proxy's by more than this (leaves are backdated by the service's --skew, 20s)"],
  LANYARD_PROXY_ANCHOR_DRAIN_GRACE: ['10s', 'when a trust anchor leaves the bundle, what its peers hold open closes at its first quiet moment, at the latest after this'],
  LANYARD_PROXY_RELAY: ['false', 'carry connections to other Lanyard proxies on the native relay (pooled mTLS connections whose bytes a native thread carries; needs the native addon, else mux is used); experimental'],
  LANYARD_PROXY_MUX: ['true', 'carry connections to other Lanyard proxies as streams on one mTLS connection (false: one TLS connection each, resumed)'],
  LANYARD_PROXY_APP_PROBES: [undefined, "the app's kubelet probes, moved to the admin port by injection: JSON, /app-health/<container>/<kind> -> the probe (written by lanyard inject)"],
  LANYARD_POD_IP: [undefined, "the pod's IP (downward API): where app probes are sent, as the kubelet sends them (unset: 127.0.0.1)"],
  LANYARD_PROXY_SHUTDOWN_GRACE: ['5s', 'on SIGTERM, time open connections get to finish before they are closed'],
  LANYARD_TRUST_DOMAIN: ['cluster.local', 'trust domain (for the default identity name)'],
  LANYARD_CONTROL_NAMESPACE: ['lanyard', 'control-plane namespace (for the default identity name)'],
  LANYARD_LOG_LEVEL: ['info', 'log level'],
};

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/**
 * The flag equivalent to a variable: its name without the prefix, lower-case, dashed; a
 * boolean that defaults to true is switched off with `--no-<name>`.
 */
export function proxyFlag(name: string): string {
  const base = name.replace(/^LANYARD_(PROXY_)?/, '').toLowerCase().replace(/_/g, '-');
  return PROXY_ENV[name]?.[0] === 'true' ? `--no-${base}` : `--${base}`;
}

/** How an error names a value: its flag and its variable, `--inbound-addr (env LANYARD_PROXY_INBOUND_ADDR)`. */
export function proxySource(name: string): string {
  return describeSource({ flag: proxyFlag(name), env: name });
}

export class ProxyConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProxyConfigError';
  }
}

export function parseProxyConfig(env: Record<string, string | undefined>): ProxyConfig {
  const get = (name: string): string | undefined => {
    const v = env[name];
    return v === undefined || v.trim() === '' ? PROXY_ENV[name]?.[0] : v.trim();
  };
  const need = (name: string): string => {
    const v = get(name);
    if (v === undefined) throw new ProxyConfigError(`${proxySource(name)}: required (${PROXY_ENV[name][1]})`);
    return v;
  };
  const addr = (name: string): HostPort => wrap(name, () => parseAddress(need(name), 'listen'));
  /** A duration; zero only where it means "disabled". */
  const duration = (name: string, zeroAllowed = false): number => {
    const ms = wrap(name, () => parseDuration(need(name)));
    if (ms <= 0 && !zeroAllowed) throw new ProxyConfigError(`${proxySource(name)}: must be greater than zero`);
    return ms;
  };

  const domain = wrap('LANYARD_TRUST_DOMAIN', () => new TrustDomain(need('LANYARD_TRUST_DOMAIN')).domain);
  const td = wrap('LANYARD_CONTROL_NAMESPACE', () => new TrustDomain(domain, need('LANYARD_CONTROL_NAMESPACE')));
  const logLevel = wrap('LANYARD_LOG_LEVEL', () => parseChoice(need('LANYARD_LOG_LEVEL'), LOG_LEVELS));
  const localIdentity = need('LANYARD_PROXY_LOCAL_IDENTITY');
  if (!td.parse(localIdentity)) {
    throw new ProxyConfigError(
      `${proxySource('LANYARD_PROXY_LOCAL_IDENTITY')}: ${JSON.stringify(localIdentity)} is not a workload identity; expected <sa>.<ns>.serviceaccount.identity.${td.controlNamespace}.${td.domain}`,
    );
  }
  const identityName = get('LANYARD_PROXY_IDENTITY_NAME') ?? td.identity({ namespace: td.controlNamespace, serviceAccount: 'lanyard-identity' });
  if (!isDnsName(identityName)) throw new ProxyConfigError(`${proxySource('LANYARD_PROXY_IDENTITY_NAME')}: ${JSON.stringify(identityName)} is not a DNS name`);
  const identityAddr = need('LANYARD_PROXY_IDENTITY_ADDR');
  wrap('LANYARD_PROXY_IDENTITY_ADDR', () => parseAddress(identityAddr, 'dial'));

  const anchors = readAnchors(need('LANYARD_PROXY_TRUST_ANCHORS'));
  const appPortRaw = get('LANYARD_PROXY_APP_PORT');
  const appPort = appPortRaw === undefined ? null : wrap('LANYARD_PROXY_APP_PORT', () => parsePort(appPortRaw));
  const routesFile = get('LANYARD_PROXY_ROUTES_FILE') ?? null;
  const routes = [
    ...(routesFile ? wrap('LANYARD_PROXY_ROUTES_FILE', () => parseRoutes(readFile(routesFile), `${proxySource('LANYARD_PROXY_ROUTES_FILE')} ${routesFile}`)) : []),
    ...(get('LANYARD_PROXY_ROUTES') ? wrap('LANYARD_PROXY_ROUTES', () => parseRoutes(need('LANYARD_PROXY_ROUTES'), proxySource('LANYARD_PROXY_ROUTES'))) : []),
  ];
  const unmeshed = wrap('LANYARD_PROXY_OUTBOUND_UNMESHED', () => parseChoice(need('LANYARD_PROXY_OUTBOUND_UNMESHED'), ['allow', 'deny'] as const));
  const maxConnections = wrap('LANYARD_PROXY_MAX_CONNECTIONS', () => parseInteger(need('LANYARD_PROXY_MAX_CONNECTIONS'), 1));
  const tokenFile = need('LANYARD_PROXY_TOKEN_FILE');
  const policyFile = get('LANYARD_PROXY_POLICY_FILE') ?? null;
  const certFile = get('LANYARD_PROXY_CERT_FILE') ?? null;
  const keyFile = get('LANYARD_PROXY_KEY_FILE') ?? null;
  if (!certFile !== !keyFile) {
    const [missing, given] = certFile ? ['LANYARD_PROXY_KEY_FILE', 'LANYARD_PROXY_CERT_FILE'] : ['LANYARD_PROXY_CERT_FILE', 'LANYARD_PROXY_KEY_FILE'];
    throw new ProxyConfigError(`${proxySource(missing)}: required with ${proxySource(given)}`);
  }
  for (const [name, f] of [['LANYARD_PROXY_CERT_FILE', certFile], ['LANYARD_PROXY_KEY_FILE', keyFile]] as const) {
    if (f && !existsSync(f)) throw new ProxyConfigError(`${proxySource(name)}: ${f} does not exist`);
  }
  if (policyFile && !existsSync(policyFile)) throw new ProxyConfigError(`${proxySource('LANYARD_PROXY_POLICY_FILE')}: ${policyFile} does not exist`);
  const auditFile = get('LANYARD_PROXY_AUDIT_FILE') ?? null;
  if (auditFile) checkAuditFile(auditFile);

  const bool = (name: string): boolean => wrap(name, () => parseBoolean(need(name)));
  const transparent = bool('LANYARD_PROXY_TRANSPARENT');
  const discoveryAddr = get('LANYARD_PROXY_DISCOVERY_ADDR') ?? null;
  if (discoveryAddr) wrap('LANYARD_PROXY_DISCOVERY_ADDR', () => parseAddress(discoveryAddr, 'dial'));
  if (transparent && !discoveryAddr) {
    throw new ProxyConfigError(
      `${proxySource('LANYARD_PROXY_DISCOVERY_ADDR')}: required in transparent mode (${proxySource('LANYARD_PROXY_TRANSPARENT')}); without discovery every destination would look unmeshed`,
    );
  }
  const probesText = get('LANYARD_PROXY_APP_PROBES');
  const appProbes = probesText === undefined ? new Map() : wrap('LANYARD_PROXY_APP_PROBES', () => parseAppProbes(probesText));
  const podIp = get('LANYARD_POD_IP') ?? '127.0.0.1';
  if (!isIP(podIp)) throw new ProxyConfigError(`${proxySource('LANYARD_POD_IP')}: ${JSON.stringify(podIp)} is not an IP address`);
  const discoveryName = get('LANYARD_PROXY_DISCOVERY_NAME') ?? null;
  if (discoveryName && !isDnsName(discoveryName)) throw new ProxyConfigError(`${proxySource('LANYARD_PROXY_DISCOVERY_NAME')}: ${JSON.stringify(discoveryName)} is not a DNS name`);

  return {
    identityAddr,
    identityName,
    tokenFile,
    trustAnchorsPem: anchors.pem,
    trustAnchorsFile: anchors.file,
    localIdentity,
    identityDir: get('LANYARD_PROXY_IDENTITY_DIR') ?? null,
    certFile,
    keyFile,
    inbound: addr('LANYARD_PROXY_INBOUND_ADDR'),
    outbound: addr('LANYARD_PROXY_OUTBOUND_ADDR'),
    admin: addr('LANYARD_PROXY_ADMIN_ADDR'),
    appPort,
    routes,
    routesFile,
    unmeshed,
    policyFile,
    transparent,
    discoveryAddr,
    discoveryName,
    detectTimeoutMs: duration('LANYARD_PROXY_DETECT_TIMEOUT'),
    handshakeTimeoutMs: duration('LANYARD_PROXY_HANDSHAKE_TIMEOUT'),
    connectTimeoutMs: duration('LANYARD_PROXY_CONNECT_TIMEOUT'),
    idleTimeoutMs: duration('LANYARD_PROXY_IDLE_TIMEOUT', true),
    keepaliveMs: duration('LANYARD_PROXY_KEEPALIVE', true),
    auditSummaryIntervalMs: duration('LANYARD_PROXY_AUDIT_SUMMARY_INTERVAL'),
    auditFile,
    edgeLimit: wrap('LANYARD_PROXY_EDGE_LIMIT', () => parseInteger(need('LANYARD_PROXY_EDGE_LIMIT'), 1, 1_000_000)),
    maxConnections,
    authenticatedReserve: get('LANYARD_PROXY_AUTHENTICATED_RESERVE') === undefined
      ? Math.floor(maxConnections / 10)
      : wrap('LANYARD_PROXY_AUTHENTICATED_RESERVE', () => parseInteger(need('LANYARD_PROXY_AUTHENTICATED_RESERVE'), 0, maxConnections - 1)),
    minRefreshMs: duration('LANYARD_PROXY_MIN_REFRESH'),
    reissueWindowMs: duration('LANYARD_PROXY_REISSUE_WINDOW'),
    clockSkewAllowanceMs: duration('LANYARD_PROXY_CLOCK_SKEW_ALLOWANCE'),
    anchorDrainGraceMs: duration('LANYARD_PROXY_ANCHOR_DRAIN_GRACE', true),
    shutdownGraceMs: duration('LANYARD_PROXY_SHUTDOWN_GRACE', true),
    multiplex: bool('LANYARD_PROXY_MUX'),
    relay: bool('LANYARD_PROXY_RELAY'),
    appProbes,
    podIp,
    logLevel,
  };
}

/** Runs a parser for one variable; its error is prefixed with the flag and variable, once. */
function wrap<T>(name: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const msg = (e as Error).message;
    const src = proxySource(name);
    throw new ProxyConfigError(msg.startsWith(src) ? msg : `${src}: ${msg}`);
  }
}

function readAnchors(value: string): { pem: string; file: string | null } {
  if (value.includes('-----BEGIN CERTIFICATE-----')) return { pem: value.replace(/\\n/g, '\n'), file: null };
  const src = proxySource('LANYARD_PROXY_TRUST_ANCHORS');
  if (!existsSync(value)) throw new ProxyConfigError(`${src}: neither PEM text nor an existing file: ${value}`);
  const pem = readFileSync(value, 'utf8');
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) throw new ProxyConfigError(`${src}: ${value} holds no PEM certificate`);
  return { pem, file: value };
}

/** The file's directory must exist and the path must not be a directory: found at start-up, not at the first connection. */
function checkAuditFile(path: string): void {
  const src = proxySource('LANYARD_PROXY_AUDIT_FILE');
  const dir = dirname(path);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new ProxyConfigError(`${src}: directory ${dir} does not exist`);
  if (existsSync(path) && statSync(path).isDirectory()) throw new ProxyConfigError(`${src}: ${path} is a directory; expected a file`);
}

function readFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new Error(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
