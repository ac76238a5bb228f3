/**
 * The sidecar assembled: identity client, TLS state, policy, inbound and outbound
 * listeners, admin HTTP and audit. Listeners start only once the first certificate is
 * installed; until then /ready is false and nothing is accepted.
 */
import type { Socket } from 'node:net';
import { TrustBundle } from '../src/pki/trust-bundle.js';
import { AdminServer } from '../src/telemetry/admin-server.js';
import type { Logger } from '../src/telemetry/logger.js';
import { isLoopbackHost, parseAddress } from '../src/util/address.js';
import { createRegistry, type Registry } from '../src/telemetry/metrics.js';
import { ConnectionAudit } from './audit.js';
import type { ProxyConfig } from './config.js';
import { CertifyClient } from './identity/certify-client.js';
import { issuerFingerprintOf, WorkloadIdentity } from './identity/workload-identity.js';
import { ClockSkew } from './identity/clock-skew.js';
import { IssuerWatch } from './identity/issuer-watch.js';
import { AnchorDrain } from './tls/anchor-drain.js';
import { StaticIdentity } from './identity/static-identity.js';
import type { IdentitySource } from './identity/identity-source.js';
import { InboundProxy, type InboundTarget } from './inbound/inbound-proxy.js';
import { ProxyMetrics } from './metrics.js';
import { OutboundProxy } from './outbound/outbound-proxy.js';
import { fmt, type HostPort } from './outbound/routes.js';
import { PolicyStore } from './policy/policy-store.js';
import { policyOverridesFromEnv } from './policy/policy-env.js';
import { TlsState } from './tls/tls-state.js';
import { chainProblem, describeIdentity, oneLine } from './identity/identity-report.js';
import { TrustAnchorsFile } from './trust-anchors-file.js';
import { DiscoveryClient } from './discovery/discovery-client.js';
import { TransparentResolver } from './outbound/transparent-resolver.js';
import { loadNative, nativeStatus, socketFd, type NativeAddon, type OriginalDestination } from './native/index.js';
import { relayHub, type RelayHub } from './relay/relay-hub.js';
import { checkNodeInternals } from './node-internals.js';
import { MemoryRelief } from './io/memory-relief.js';
import { fullCollection, youngCollector } from './io/young-collector.js';
import { AppProber } from './probes/app-prober.js';

export interface SidecarProxyDeps {
  logger: Logger;
  /** Environment for the policy variables (LANYARD_PROXY_POLICY, _DEFAULT_POLICY, _CLUSTER_NETWORKS). */
  env: Record<string, string | undefined>;
  registry?: Registry;
}

export interface RunningProxy {
  inbound: HostPort;
  outbound: HostPort[];
  admin: HostPort;
}

export class SidecarProxy {
  readonly registry: Registry;
  readonly metrics: ProxyMetrics;
  readonly tls: TlsState;
  readonly identity: IdentitySource;
  readonly policy: PolicyStore;
  private readonly admin: AdminServer;
  private readonly anchorsFile: TrustAnchorsFile | null;
  private inbound: InboundProxy | null = null;
  private outbound: OutboundProxy | null = null;
  private stopped = false;
  private readonly native: NativeAddon | null;
  private discovery: DiscoveryClient | null = null;
  /** Made first: a proxy whose audit file cannot be opened does not start. */
  readonly audit: ConnectionAudit;
  private relief: MemoryRelief | null = null;
  readonly drain: AnchorDrain;
  readonly skew: ClockSkew;
  private issuerWatch: IssuerWatch | null = null;

  constructor(
    readonly cfg: ProxyConfig,
    private readonly deps: SidecarProxyDeps,
  ) {
    this.registry = deps.registry ?? createRegistry({ processMetrics: true });
    this.metrics = new ProxyMetrics(this.registry, () => this.readiness().ready);
    this.tls = new TlsState(cfg.trustAnchorsPem);
    this.metrics.anchorsInUse(TrustBundle.fromPem(cfg.trustAnchorsPem, 'trust anchors').anchors);
    this.tls.on('change', () => this.leafChanged());
    this.drain = new AnchorDrain({ graceMs: cfg.anchorDrainGraceMs, logger: deps.logger, metrics: this.metrics });
    this.skew = new ClockSkew({ allowanceMs: cfg.clockSkewAllowanceMs, logger: deps.logger, metrics: this.metrics });
    this.audit = new ConnectionAudit(deps.logger, this.metrics, { summaryIntervalMs: cfg.auditSummaryIntervalMs, file: cfg.auditFile, edgeLimit: cfg.edgeLimit });
    this.audit.localIdentity = cfg.localIdentity;
    // Optional outside transparent mode: it also returns the memory of connection bursts.
    this.native = loadNative();
    if (cfg.transparent && !this.native) {
      throw new Error(`LANYARD_PROXY_TRANSPARENT=true needs the native addon to read original destinations: ${nativeStatus().reason}`);
    }
    this.identity =
      cfg.certFile && cfg.keyFile
        ? new StaticIdentity({ identity: cfg.localIdentity, certFile: cfg.certFile, keyFile: cfg.keyFile, tls: this.tls, logger: deps.logger, metrics: this.metrics })
        : new WorkloadIdentity({
            identity: cfg.localIdentity,
            connect: (anchorsPem) => new CertifyClient({ address: cfg.identityAddr, serverName: cfg.identityName, trustAnchorsPem: anchorsPem, keepaliveMs: cfg.keepaliveMs }),
            tokenFile: cfg.tokenFile,
            tls: this.tls,
            identityDir: cfg.identityDir ?? undefined,
            minRefreshMs: cfg.minRefreshMs,
            logger: deps.logger,
            metrics: this.metrics,
          });
    this.policy = new PolicyStore({
      file: cfg.policyFile ?? undefined,
      overrides: policyOverridesFromEnv(deps.env),
      logger: deps.logger,
      registry: this.registry,
    });
    this.anchorsFile = cfg.trustAnchorsFile
      ? new TrustAnchorsFile(
          { file: cfg.trustAnchorsFile, logger: deps.logger, metrics: this.metrics, onChange: (pem, bundle, removed) => this.anchorsChanged(pem, bundle, removed) },
          cfg.trustAnchorsPem,
        )
      : null;
    if (this.identity instanceof WorkloadIdentity) {
      this.issuerWatch = new IssuerWatch({ identity: this.identity, windowMs: cfg.reissueWindowMs, skew: this.skew, logger: deps.logger });
    }
    this.admin = new AdminServer({
      host: cfg.admin.host,
      port: cfg.admin.port,
      registry: this.registry,
      ready: () => this.readiness(),
      routes: { '/identity': () => this.describeIdentity(), '/edges': () => this.audit.edges.snapshot({ identity: cfg.localIdentity, admin: this.adminAddress() }) },
      streams: { '/audit': (req, res, query) => this.audit.stream.handle(req, res, query) },
      // Answered from the start: the app's probes do not wait for the proxy's certificate.
      textRoutes: new AppProber({ probes: cfg.appProbes, host: cfg.podIp, logger: deps.logger }).routes(),
    });
  }

  /** Starts admin and the identity client; resolves once the listeners are up. */
  async start(): Promise<RunningProxy> {
    // Before anything listens: a Node without the internals the proxy reads must not start.
    await checkNodeInternals();
    await this.policy.start();
    const admin = await this.admin.start();
    this.anchorsFile?.start();
    this.identity.start();
    this.issuerWatch?.start();
    await this.identity.ready;
    if (this.stopped) throw new Error('stopped before the first certificate arrived');
    const audit = this.audit;
    audit.start();
    const trim = this.native?.mallocTrim?.bind(this.native);
    if (trim) {
      this.relief = new MemoryRelief({ trim, closed: () => audit.closedCount, moved: () => youngCollector.movedTotal(), collect: fullCollection(), logger: this.deps.logger });
      this.relief.start();
    }
    const relay = this.relayTransport();
    const inbound = new InboundProxy({
      host: this.cfg.inbound.host,
      port: this.cfg.inbound.port,
      localIdentity: this.cfg.localIdentity,
      tls: this.tls,
      policy: this.policy,
      target: (s) => this.inboundTarget(s),
      streamTarget: (port, host) => this.streamTarget(port, host),
      streamPorts: () => (this.cfg.transparent ? null : this.cfg.appPort === null ? [] : [this.cfg.appPort]),
      ownPorts: () => [inboundPort, this.cfg.admin.port, ...outboundAddrs.map((a) => a.port)],
      detectTimeoutMs: this.cfg.detectTimeoutMs,
      handshakeTimeoutMs: this.cfg.handshakeTimeoutMs,
      connectTimeoutMs: this.cfg.connectTimeoutMs,
      idleTimeoutMs: this.cfg.idleTimeoutMs,
      keepaliveMs: this.cfg.keepaliveMs,
      maxConnections: this.cfg.maxConnections,
      authenticatedReserve: this.cfg.authenticatedReserve,
      audit,
      metrics: this.metrics,
      logger: this.deps.logger,
      drain: this.drain,
      relay,
    });
    const routes = this.cfg.routes.map((r) => r);
    const outbound = new OutboundProxy({
      routes,
      localIdentity: this.cfg.localIdentity,
      tls: this.tls,
      unmeshed: this.cfg.unmeshed,
      multiplex: this.cfg.multiplex,
      connectTimeoutMs: this.cfg.connectTimeoutMs,
      handshakeTimeoutMs: this.cfg.handshakeTimeoutMs,
      idleTimeoutMs: this.cfg.idleTimeoutMs,
      keepaliveMs: this.cfg.keepaliveMs,
      maxConnections: this.cfg.maxConnections,
      audit,
      metrics: this.metrics,
      logger: this.deps.logger,
      drain: this.drain,
      relay,
    });
    const outboundAddrs = await outbound.start();
    let inboundPort = 0;
    if (this.cfg.transparent) outboundAddrs.unshift(await this.startTransparent(outbound, () => [inboundPort, this.cfg.admin.port, ...outboundAddrs.map((a) => a.port)]));
    const inboundAddr = await inbound.start();
    inboundPort = inboundAddr.port;
    this.outbound = outbound;
    this.inbound = inbound;
    const running = { inbound: inboundAddr, outbound: outboundAddrs, admin: { host: admin.address, port: admin.port } };
    this.deps.logger.info(
      { event: 'proxy_ready', identity: this.cfg.localIdentity, inbound: fmt(running.inbound), outbound: running.outbound.map(fmt), admin: fmt(running.admin) },
      'proxy ready',
    );
    return running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.issuerWatch?.stop();
    this.identity.stop();
    this.policy.stop();
    this.anchorsFile?.stop();
    this.discovery?.close();
    this.relief?.stop();
    this.audit.stream.closeAll(); // subscribers hear the end instead of waiting on the grace period
    await Promise.all([this.inbound?.stop(this.cfg.shutdownGraceMs), this.outbound?.stop(this.cfg.shutdownGraceMs), this.admin.close()]);
    this.audit.stop();
  }

  /** Reopens the audit file (the CLI calls it on SIGHUP, after logrotate moved the file). */
  reopenAudit(): void {
    this.audit.reopen();
  }

  private adminAddress(): string {
    const a = this.admin.address();
    return a ? fmt({ host: a.address, port: a.port }) : fmt(this.cfg.admin);
  }

  /** Ready while listening with a certificate that has not expired (peers refuse an expired one). */
  readiness(): { ready: boolean; reason?: string } {
    if (!this.inbound) return { ready: false, reason: `waiting for identity (${this.identity.lastFailure ?? 'first Certify in progress'})` };
    const cert = this.tls.current()?.certificate;
    if (cert && cert.notAfter.getTime() <= Date.now()) {
      return { ready: false, reason: `certificate ${cert.serial} expired at ${cert.notAfter.toISOString()} (${this.identity.lastFailure ?? 'refresh in progress'})` };
    }
    return { ready: true };
  }

  /**
   * The relay transport, when LANYARD_PROXY_RELAY asks for it and the addon has it; without the
   * addon the proxy says so once and carries on with mux (peers then fall back to it too).
   */
  private relayTransport(): RelayHub | null {
    if (!this.cfg.relay) return null;
    const hub = relayHub({
      idleMs: this.cfg.idleTimeoutMs,
      keepaliveMs: this.cfg.keepaliveMs,
      connectTimeoutMs: this.cfg.connectTimeoutMs,
      statusTimeoutMs: this.cfg.connectTimeoutMs + this.cfg.handshakeTimeoutMs,
    });
    if (!hub) {
      const why = nativeStatus().loaded ? 'the native addon was built before it had the relay; rebuild it with `npm run build`' : nativeStatus().reason;
      this.deps.logger.warn({ event: 'relay_unavailable', reason: why }, 'LANYARD_PROXY_RELAY=true, but the relay transport is unavailable: using mux');
    }
    return hub;
  }

  /**
   * A multiplexed stream: explicit mode always goes to the app port; transparent, to the port
   * the stream names on the pod's own address (`host`, where the session's connection was
   * sent), never loopback, so a port bound to 127.0.0.1 stays reachable only from inside the pod.
   */
  private streamTarget(port: number, host: string): InboundTarget | Error {
    if (!this.cfg.transparent) {
      if (this.cfg.appPort === null) return new Error('no application port: set LANYARD_PROXY_APP_PORT');
      return { host: '127.0.0.1', port: this.cfg.appPort };
    }
    return { host, port };
  }

  /**
   * Explicit mode: 127.0.0.1:LANYARD_PROXY_APP_PORT. Transparent: the original destination,
   * the pod's own address and the port the peer dialled (as Istio does since 1.10): delivering
   * to loopback instead would expose ports the application bound to 127.0.0.1.
   */
  private inboundTarget(socket: Socket): InboundTarget | Error {
    if (this.cfg.transparent && this.native) {
      let dst: OriginalDestination | null = null;
      try {
        dst = this.native.originalDst(socketFd(socket));
      } catch (e) {
        return new Error(`cannot read the original destination: ${(e as Error).message}`);
      }
      if (dst) return { host: dst.address, port: dst.port };
    }
    if (this.cfg.appPort === null) {
      return new Error(this.cfg.transparent ? 'no original destination (not redirected) and no LANYARD_PROXY_APP_PORT' : 'no application port: set LANYARD_PROXY_APP_PORT');
    }
    return { host: '127.0.0.1', port: this.cfg.appPort };
  }

  private async startTransparent(outbound: OutboundProxy, ownPorts: () => number[]): Promise<HostPort> {
    const native = this.native!;
    const discoveryHost = parseAddress(this.cfg.discoveryAddr!, 'dial').host;
    if (!this.cfg.discoveryName && !isLoopbackHost(discoveryHost)) {
      // Whoever answers in discovery's place decides which identity this proxy expects.
      this.deps.logger.warn({ event: 'discovery_plaintext', discovery: this.cfg.discoveryAddr }, 'discovery is asked over plaintext: set LANYARD_PROXY_DISCOVERY_NAME to verify it over TLS');
    }
    this.discovery = new DiscoveryClient({
      address: this.cfg.discoveryAddr!,
      tls: this.cfg.discoveryName ? { serverName: this.cfg.discoveryName, trustAnchorsPem: this.tls.anchors() } : undefined,
      keepaliveMs: this.cfg.keepaliveMs,
      connectTimeoutMs: this.cfg.connectTimeoutMs + this.cfg.handshakeTimeoutMs,
      logger: this.deps.logger,
    });
    const resolver = new TransparentResolver({
      originalDst: (s) => native.originalDst(socketFd(s)),
      discovery: this.discovery,
      routes: this.cfg.routes.filter((r) => r.destination),
      ownPorts,
      logger: this.deps.logger,
    });
    return outbound.startTransparent(this.cfg.outbound, (s) => resolver.upstreamFor(s));
  }

  /**
   * New anchors from the bundle file: new TLS contexts (so new handshakes and no resumption
   * under the old ones), a new Certify connection, a drain of what removed anchors
   * authenticated, and a re-issue at once if the bundle no longer verifies our own leaf (which
   * keeps serving meanwhile: peers still holding the old bundle accept it).
   */
  private anchorsChanged(pem: string, bundle: TrustBundle, removed: string[]): void {
    this.tls.setAnchors(pem);
    this.discovery?.setTrustAnchors(pem);
    this.metrics.anchorsInUse(bundle.anchors);
    this.identity.anchorsChanged();
    if (removed.length) this.drain.anchorsRemoved(bundle, removed);
    const cert = this.tls.current()?.certificate;
    const untrusted = cert ? chainProblem(cert, bundle) : null;
    if (!cert || !untrusted) return;
    this.deps.logger.warn(
      { event: 'leaf_not_trusted_by_bundle', serial: cert.serial, issuer: issuerFingerprintOf(cert, pem), anchors: bundle.anchors.map((a) => a.fingerprint256), reason: untrusted },
      'the new trust bundle does not verify the certificate in use; keeping it and re-certifying at once',
    );
    this.identity.reissue('leaf-untrusted');
  }

  private leafChanged(): void {
    const m = this.tls.current();
    if (!m) return;
    this.drain.learnIssuers(m.certificate.intermediates);
    const fp = issuerFingerprintOf(m.certificate, m.anchorsPem);
    const issuer = m.certificate.intermediates[0] ?? null;
    this.metrics.leafIssuer(fp, oneLine(issuer?.subject ?? m.certificate.leaf.issuer));
  }

  private describeIdentity(): unknown {
    return describeIdentity({
      localIdentity: this.cfg.localIdentity,
      tls: this.tls,
      lastFailure: this.identity.lastFailure,
      ready: () => this.readiness().ready,
      skewMs: this.skew.skewMs,
      issuerStatus: this.issuerWatch ? (this.issuerWatch.mode === 'stream' ? (this.issuerWatch.last ? 'stream' : 'connecting') : 'periodic-certify') : 'static',
    });
  }
}
