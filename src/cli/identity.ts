/**
 * `lanyard identity` (and `npm start`): the identity service. With no flags it runs on the
 * embedded default: a development PKI and token key in certs/dev/, created on first start.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { loadNative, nativeStatus } from '../../proxy/native/index.js';
import { IdentityClusterSupervisor } from '../identity/identity-cluster.js';
import { IdentityClusterWorker } from '../identity/identity-cluster-worker.js';
import { IdentityService, type IdentityServiceConfig } from '../identity/identity-service.js';
import { DEV_TOKEN_ISSUER } from '../identity/validators/dev-token.js';
import { JwksSource } from '../identity/validators/jwks-source.js';
import { JwksTokenValidator } from '../identity/validators/jwks-token-validator.js';
import { TokenCache } from '../identity/validators/token-cache.js';
import type { TokenValidator } from '../identity/token-validator.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { defaultDevDir } from './paths.js';
import { envOption } from './env.js';
import { formatHostPort, parseDuration, parseHostPort, parsePositiveInt, type HostPort } from './parse.js';
import { parseDuration as parseUtilDuration } from '../util/duration.js';
import { named, parseInteger, ValueError } from '../util/value-error.js';

export interface IdentityOptions {
  addr: string;
  adminAddr: string;
  issuerDir: string;
  trustAnchors?: string;
  trustDomain: string;
  controlNamespace?: string;
  linkerd: boolean;
  validator: 'dev' | 'jwks' | 'kubernetes';
  audience?: string;
  tokenIssuer?: string;
  jwksFile?: string;
  jwksUrl?: string;
  jwksCa?: string;
  jwksBearerTokenFile?: string;
  tokenCacheTtl: string;
  jwksMaxAge: string;
  kubeconfig?: string;
  kubeTimeout: string;
  kubeQps: string;
  kubeBurst: string;
  lifetime: string;
  skew: string;
  pollInterval: string;
  workers: string;
  logLevel: string;
  idleTimeout: string;
  handshakeTimeout: string;
  requestTimeout: string;
  maxConnections: string;
}

export function registerIdentity(program: Command): void {
  program
    .command('identity')
    .description('Run the identity service: verify service-account tokens and sign short-lived workload certificates (Certify).')
    .addOption(envOption('--addr <host:port>', 'Certify gRPC/TLS listener', 'LANYARD_IDENTITY_ADDR', '127.0.0.1:8080'))
    .addOption(envOption('--admin-addr <host:port>', 'admin HTTP listener (/ready, /live, /metrics)', 'LANYARD_IDENTITY_ADMIN_ADDR', '127.0.0.1:9990'))
    .addOption(
      envOption('--issuer-dir <dir>', 'directory with the issuer cert+key (tls.crt/tls.key, crt.pem/key.pem or issuer.crt/issuer.key)', 'LANYARD_IDENTITY_ISSUER_DIR', defaultDevDir()),
    )
    .addOption(envOption('--trust-anchors <path>', 'trust bundle file, or directory with ca.crt/ca-bundle.crt (default: the issuer dir)', 'LANYARD_IDENTITY_TRUST_ANCHORS'))
    .addOption(envOption('--trust-domain <domain>', 'trust domain', 'LANYARD_TRUST_DOMAIN', 'cluster.local'))
    .addOption(envOption('--control-namespace <ns>', 'control-plane namespace used in identities (default lanyard; linkerd with --linkerd)', 'LANYARD_CONTROL_NAMESPACE'))
    .addOption(new Option('--linkerd', 'Linkerd-compatible mode: audience identity.l5d.io, control namespace linkerd').env('LANYARD_LINKERD_COMPAT').default(false))
    .addOption(envOption('--validator <kind>', 'token validator: dev | jwks | kubernetes', 'LANYARD_IDENTITY_VALIDATOR', 'dev'))
    .addOption(envOption('--audience <aud>', 'token audience (default identity.lanyard.io; identity.l5d.io with --linkerd)', 'LANYARD_IDENTITY_AUDIENCE'))
    .addOption(envOption('--token-issuer <iss>', `token issuer for jwks (default https://kubernetes.default.svc.cluster.local; dev: ${DEV_TOKEN_ISSUER})`, 'LANYARD_IDENTITY_TOKEN_ISSUER'))
    .addOption(envOption('--jwks-file <file>', 'JWKS file (jwks validator)', 'LANYARD_IDENTITY_JWKS_FILE'))
    .addOption(envOption('--jwks-url <url>', 'JWKS URL, e.g. https://kubernetes.default.svc/openid/v1/jwks (jwks validator)', 'LANYARD_IDENTITY_JWKS_URL'))
    .addOption(envOption('--jwks-ca <file>', 'CA bundle for --jwks-url', 'LANYARD_IDENTITY_JWKS_CA'))
    .addOption(envOption('--jwks-bearer-token-file <file>', 'bearer token sent to --jwks-url', 'LANYARD_IDENTITY_JWKS_BEARER_TOKEN_FILE'))
    .addOption(envOption('--jwks-max-age <duration>', 'longest time a fetched JWKS is used before it is fetched again (jwks/dev)', 'LANYARD_IDENTITY_JWKS_MAX_AGE', '10m'))
    .addOption(envOption('--token-cache-ttl <duration>', 'how long a verified token is remembered (jwks/dev; 0 disables)', 'LANYARD_IDENTITY_TOKEN_CACHE_TTL', '60s'))
    .addOption(envOption('--kubeconfig <file>', 'kubeconfig for the kubernetes validator (default: in-cluster or ~/.kube/config)', 'KUBECONFIG'))
    .addOption(envOption('--kube-timeout <duration>', 'TokenReview timeout', 'LANYARD_IDENTITY_KUBE_TIMEOUT', '5s'))
    .addOption(envOption('--kube-qps <n>', 'API-server requests per second', 'LANYARD_IDENTITY_KUBE_QPS', '20'))
    .addOption(envOption('--kube-burst <n>', 'API-server request burst', 'LANYARD_IDENTITY_KUBE_BURST', '40'))
    .addOption(envOption('--lifetime <duration>', 'leaf certificate lifetime (never past the issuer NotAfter)', 'LANYARD_IDENTITY_LIFETIME', '24h'))
    .addOption(envOption('--skew <duration>', 'NotBefore backdating for clock skew', 'LANYARD_IDENTITY_SKEW', '20s'))
    .addOption(envOption('--poll-interval <duration>', 'issuer directory poll period (changes are also watched)', 'LANYARD_IDENTITY_POLL_INTERVAL', '10s'))
    .addOption(envOption('--workers <n|auto>', 'processes serving Certify on the shared port (auto: one per CPU)', 'LANYARD_IDENTITY_WORKERS', '1'))
    .addOption(envOption('--log-level <level>', 'log level', 'LANYARD_LOG_LEVEL', 'info'))
    .addOption(envOption('--idle-timeout <duration>', 'close connections with no call in flight after this long (clients reconnect)', 'LANYARD_IDENTITY_IDLE_TIMEOUT', '5m'))
    .addOption(envOption('--handshake-timeout <duration>', 'time a connection gets for its TLS handshake, and again for its HTTP/2 preface', 'LANYARD_IDENTITY_HANDSHAKE_TIMEOUT', '10s'))
    .addOption(envOption('--request-timeout <duration>', 'time a call gets to send its request in full (then DEADLINE_EXCEEDED)', 'LANYARD_IDENTITY_REQUEST_TIMEOUT', '10s'))
    .addOption(envOption('--max-connections <n>', 'connections held at once per process; more are dropped', 'LANYARD_IDENTITY_MAX_CONNECTIONS', '10000'))
    .addHelpText(
      'after',
      `
Examples:
  npm start                                   # dev PKI in certs/dev, dev tokens
  lanyard identity --validator kubernetes --issuer-dir /var/run/lanyard/issuer --addr 0.0.0.0:8080
  lanyard identity --validator jwks --jwks-url https://kubernetes.default.svc/openid/v1/jwks \\
      --jwks-ca /var/run/secrets/kubernetes.io/serviceaccount/ca.crt`,
    )
    .action(async (o: IdentityOptions) => runIdentity(o));
}

/** Validated settings, shared by the single process, the cluster primary and its workers. */
interface IdentitySettings {
  addr: HostPort;
  adminAddr: HostPort;
  issuerDir: string;
  controlNamespace: string;
  workers: number;
  service: Omit<IdentityServiceConfig, 'validator' | 'logger'>;
}

function parseSettings(o: IdentityOptions): IdentitySettings {
  const addr = parseHostPort(o.addr, '--addr (or LANYARD_IDENTITY_ADDR)');
  const adminAddr = parseHostPort(o.adminAddr, '--admin-addr (or LANYARD_IDENTITY_ADMIN_ADDR)');
  const lifetimeMs = parseDuration(o.lifetime, '--lifetime (or LANYARD_IDENTITY_LIFETIME)');
  const skewMs = parseDuration(o.skew, '--skew (or LANYARD_IDENTITY_SKEW)');
  const pollIntervalMs = parseDuration(o.pollInterval, '--poll-interval (or LANYARD_IDENTITY_POLL_INTERVAL)');
  if (lifetimeMs < 10_000) throw new Error('--lifetime (or LANYARD_IDENTITY_LIFETIME): must be at least 10s');
  if (!['dev', 'jwks', 'kubernetes'].includes(o.validator)) {
    throw new Error(`--validator (or LANYARD_IDENTITY_VALIDATOR): expected dev, jwks or kubernetes, got ${JSON.stringify(o.validator)}`);
  }
  const workers = parseWorkers(o.workers);
  const controlNamespace = o.controlNamespace ?? (o.linkerd ? 'linkerd' : 'lanyard');
  const issuerDir = resolve(o.issuerDir);
  const service = {
    host: addr.host,
    port: addr.port,
    adminHost: adminAddr.host,
    adminPort: adminAddr.port,
    issuerDir,
    trustAnchors: o.trustAnchors ? resolve(o.trustAnchors) : undefined,
    trustDomain: o.trustDomain,
    controlNamespace,
    lifetimeMs,
    skewMs,
    pollIntervalMs,
    // The native addon's ECDSA verify is twice as fast as node:crypto for a fresh key; both
    // make the same checks and give the same error codes (src/pki/csr.ts).
    csrVerifier: loadNative()?.ecdsaVerify,
    ...parseConnectionLimits(o),
  };
  return { addr, adminAddr, issuerDir, controlNamespace, workers, service };
}

/** Connection limits (src/identity/http2-limits.ts); each timeout at least 1s, since 0 would close every connection at once. */
function parseConnectionLimits(o: IdentityOptions): Pick<IdentityServiceConfig, 'idleTimeoutMs' | 'handshakeTimeoutMs' | 'requestTimeoutMs' | 'maxConnections'> {
  const timeout = (flag: string, env: string, text: string) =>
    named({ flag, env }, () => {
      const ms = parseUtilDuration(text);
      if (ms < 1000) throw new ValueError(`at least 1s, got ${JSON.stringify(text)}`);
      return ms;
    });
  return {
    idleTimeoutMs: timeout('--idle-timeout', 'LANYARD_IDENTITY_IDLE_TIMEOUT', o.idleTimeout),
    handshakeTimeoutMs: timeout('--handshake-timeout', 'LANYARD_IDENTITY_HANDSHAKE_TIMEOUT', o.handshakeTimeout),
    requestTimeoutMs: timeout('--request-timeout', 'LANYARD_IDENTITY_REQUEST_TIMEOUT', o.requestTimeout),
    maxConnections: named({ flag: '--max-connections', env: 'LANYARD_IDENTITY_MAX_CONNECTIONS' }, () => parseInteger(o.maxConnections, 1)),
  };
}

function parseWorkers(value: string): number {
  if (value.trim() === 'auto') return availableParallelism();
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--workers (or LANYARD_IDENTITY_WORKERS): expected a positive integer or auto, got ${JSON.stringify(value)}`);
  return n;
}

/** For the start-up log line: which CSR verifier runs, and why not the native one. */
function verifierFields(): Record<string, string> {
  const st = nativeStatus();
  return st.loaded ? { csr_verifier: 'native' } : { csr_verifier: 'node', native_addon: st.reason ?? 'not loaded' };
}

async function runIdentity(o: IdentityOptions): Promise<void> {
  const s = parseSettings(o);
  const logger = createLogger({ component: 'identity', level: o.logLevel as 'info' });
  if (cluster.isWorker) return runWorker(o, s, logger.child({ worker: cluster.worker!.id }));

  let devCreated = false;
  if (o.validator === 'dev') {
    // Loaded on demand: the operator tooling pulls in @peculiar/x509, which a production
    // identity service never needs. Created here, before any worker forks.
    const { ensureDevPki } = await import('../../certs/dev-pki.js');
    const dev = await ensureDevPki(s.issuerDir, { trustDomain: o.trustDomain, controlNamespace: s.controlNamespace });
    devCreated = dev.created;
    if (dev.created) logger.info({ dir: s.issuerDir }, 'created a development PKI and token key');
  }
  let running: { port: number; admin: { port: number } };
  let stopService: () => Promise<void>;
  let servingIdentity: string;
  if (s.workers > 1) {
    const supervisor = new IdentityClusterSupervisor({ workers: s.workers, adminHost: s.adminAddr.host, adminPort: s.adminAddr.port, logger });
    running = await supervisor.start();
    stopService = () => supervisor.stop();
    servingIdentity = IdentityService.servingIdentityFor(s.service);
  } else {
    const validator = await buildValidator(o, s.issuerDir, logger);
    const service = new IdentityService({ ...s.service, validator, logger });
    running = await service.start();
    stopService = () => service.stop();
    servingIdentity = service.servingIdentity;
  }
  const stop = (signal: string) => {
    logger.info({ signal }, 'shutting down');
    void stopService().then(() => process.exit(0));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  logger.info(
    {
      addr: formatHostPort({ host: s.addr.host, port: running.port }),
      admin: formatHostPort({ host: s.adminAddr.host, port: running.admin.port }),
      validator: o.validator,
      identity: servingIdentity,
      workers: s.workers,
      ...verifierFields(),
    },
    'identity service listening',
  );
  if (o.validator === 'dev') printDevHelp(servingIdentity, s.issuerDir, `${s.addr.host}:${running.port}`, running.admin.port, devCreated);
}

/** A cluster worker: Certify on the shared port; the primary serves admin and counts on our reports. */
async function runWorker(o: IdentityOptions, s: IdentitySettings, logger: Logger): Promise<void> {
  const validator = await buildValidator(o, s.issuerDir, logger);
  const service = new IdentityService({ ...s.service, validator, logger });
  const port = await service.startWithoutAdmin();
  const link = new IdentityClusterWorker({ registry: service.registry, issuers: service.issuers });
  link.start(port);
  const stop = () => {
    link.stop();
    void service.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  logger.debug({ port, pid: process.pid }, 'identity worker listening');
}

async function buildValidator(o: IdentityOptions, issuerDir: string, logger: Logger): Promise<TokenValidator> {
  const audience = o.audience ?? (o.linkerd ? 'identity.l5d.io' : 'identity.lanyard.io');
  const cacheTtlMs = parseDuration(o.tokenCacheTtl, '--token-cache-ttl (or LANYARD_IDENTITY_TOKEN_CACHE_TTL)');
  if (o.validator === 'kubernetes') {
    // @kubernetes/client-node is large; only the kubernetes validator loads it.
    const { K8sTokenValidator } = await import('../identity/validators/k8s-token-validator.js');
    return new K8sTokenValidator({
      kubeconfigPath: o.kubeconfig,
      audience,
      requestTimeoutMs: parseDuration(o.kubeTimeout, '--kube-timeout (or LANYARD_IDENTITY_KUBE_TIMEOUT)'),
      qps: parsePositiveInt(o.kubeQps, '--kube-qps (or LANYARD_IDENTITY_KUBE_QPS)'),
      burst: parsePositiveInt(o.kubeBurst, '--kube-burst (or LANYARD_IDENTITY_KUBE_BURST)'),
      logger,
    });
  }
  const cache = new TokenCache({ ttlMs: cacheTtlMs });
  const maxAgeMs = parseDuration(o.jwksMaxAge, '--jwks-max-age (or LANYARD_IDENTITY_JWKS_MAX_AGE)');
  if (!(maxAgeMs > 0)) throw new Error('--jwks-max-age (or LANYARD_IDENTITY_JWKS_MAX_AGE): must be more than 0');
  if (o.validator === 'dev') {
    const source = new JwksSource({ location: { file: join(issuerDir, 'token-signing.jwks.json') }, maxAgeMs });
    return new JwksTokenValidator({ source, issuer: o.tokenIssuer ?? DEV_TOKEN_ISSUER, audience, kind: 'dev', cache });
  }
  if (!o.jwksFile === !o.jwksUrl) throw new Error('--validator jwks needs exactly one of --jwks-file or --jwks-url');
  const bearerFile = o.jwksBearerTokenFile;
  const source = new JwksSource({
    location: o.jwksFile
      ? { file: resolve(o.jwksFile) }
      : {
          url: o.jwksUrl!,
          ca: o.jwksCa ? readFileSync(o.jwksCa, 'utf8') : undefined,
          bearerToken: bearerFile ? async () => readFileSync(bearerFile, 'utf8').trim() : undefined,
        },
    maxAgeMs,
  });
  return new JwksTokenValidator({ source, issuer: o.tokenIssuer ?? 'https://kubernetes.default.svc.cluster.local', audience, kind: 'jwks', cache });
}

function printDevHelp(servingIdentity: string, dir: string, addr: string, adminPort: number, created: boolean): void {
  const rel = dir.startsWith(process.cwd()) ? dir.slice(process.cwd().length + 1) || '.' : dir;
  const cli = 'node dist/src/cli/main.js';
  process.stderr.write(`
Lanyard identity service is running on the embedded default${created ? ' (development PKI just created)' : ''}.
  Certify (gRPC over TLS)  ${addr}   presenting ${servingIdentity}
  admin                    http://127.0.0.1:${adminPort}/ready  /live  /metrics
  trust anchors            ${rel}/ca.crt        issuer ${rel}/issuer.crt

Get a token and a certificate for service account default/web:
  ${cli} token mint --ns default --sa web > /tmp/web.token
  ${cli} certify --ns default --sa web --token-file /tmp/web.token --out-dir /tmp/web
  ${cli} certs inspect /tmp/web/tls.crt --bundle ${rel}/ca.crt

Stop with Ctrl-C.
`);
}
