/**
 * `lanyard identity` (and `npm start`): the identity service. With no flags it runs on the
 * embedded default: a development PKI and token key in certs/dev/, created on first start.
 */
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { loadNative, nativeStatus } from '../../proxy/native/index.js';
import { IdentityClusterSupervisor } from '../identity/identity-cluster.js';
import { IdentityClusterWorker } from '../identity/identity-cluster-worker.js';
import { ExtraDnsNames } from '../identity/extra-dns-names.js';
import { IdentityService, type IdentityServiceConfig } from '../identity/identity-service.js';
import { DEV_TOKEN_ISSUER } from '../identity/validators/dev-token.js';
import { JwksSource } from '../identity/validators/jwks-source.js';
import { JwksTokenValidator } from '../identity/validators/jwks-token-validator.js';
import { TokenCache } from '../identity/validators/token-cache.js';
import type { TokenValidator } from '../identity/token-validator.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { formatAddress, type HostPort } from '../util/address.js';
import { parseInteger } from '../util/value-error.js';
import { classified, isKubeconfigError, parseFlag, UsageError } from './cli-conventions.js';
import {
  addressOption,
  choiceOption,
  durationOption,
  flagOption,
  integerOption,
  logLevelOption,
  pathOption,
  readOptionFile,
  textOption,
  trustDomainFrom,
  trustDomainOption,
  valueOption,
  type LogLevel,
} from './cli-options.js';
import { defaultDevDir } from './paths.js';

const VALIDATORS = ['dev', 'jwks', 'kubernetes'] as const;

/** The parsed options (cli-options.ts has checked every value). */
export interface IdentityOptions {
  addr: HostPort;
  adminAddr: HostPort;
  issuerDir: string;
  trustAnchors?: string;
  trustDomain: string;
  controlNamespace?: string;
  linkerd?: boolean;
  validator: (typeof VALIDATORS)[number];
  audience?: string;
  tokenIssuer?: string;
  jwksFile?: string;
  jwksUrl?: string;
  jwksCa?: string;
  jwksBearerTokenFile?: string;
  tokenCacheTtl: number;
  jwksMaxAge: number;
  kubeconfig?: string;
  kubeTimeout: number;
  kubeQps: number;
  kubeBurst: number;
  lifetime: number;
  skew: number;
  pollInterval: number;
  workers: number;
  extraDnsNames?: string;
  logLevel: LogLevel;
  idleTimeout: number;
  handshakeTimeout: number;
  requestTimeout: number;
  maxConnections: number;
}

const env = (name: string) => `LANYARD_IDENTITY_${name}`;

export function registerIdentity(program: Command): void {
  program
    .command('identity')
    .description('run the identity service: verify service-account tokens and sign short-lived workload certificates (Certify)')
    .addOption(addressOption('--addr <host:port>', 'listener for Certify (gRPC over TLS)', 'listen', { env: env('ADDR'), default: '127.0.0.1:8080' }))
    .addOption(addressOption('--admin-addr <host:port>', 'admin HTTP listener (/ready, /live, /metrics)', 'listen', { env: env('ADMIN_ADDR'), default: '127.0.0.1:9990' }))
    .addOption(
      pathOption('--issuer-dir <dir>', 'directory with the issuer cert+key (tls.crt/tls.key, crt.pem/key.pem or issuer.crt/issuer.key)', {
        env: env('ISSUER_DIR'),
        default: defaultDevDir(),
        defaultDescription: 'certs/dev',
      }),
    )
    .addOption(pathOption('--trust-anchors <path>', 'trust bundle file, or directory with ca.crt/ca-bundle.crt (default: the issuer dir)', { env: env('TRUST_ANCHORS') }))
    .addOption(trustDomainOption())
    .addOption(textOption('--control-namespace <ns>', 'control-plane namespace used in identities (default lanyard; linkerd with --linkerd)', { env: 'LANYARD_CONTROL_NAMESPACE' }))
    .addOption(flagOption('--linkerd', 'compatibility with Linkerd: audience identity.l5d.io, control namespace linkerd', { env: 'LANYARD_LINKERD_COMPAT' }))
    .addOption(choiceOption('--validator <kind>', 'token validator', VALIDATORS, { env: env('VALIDATOR'), default: 'dev' }))
    .addOption(textOption('--audience <aud>', 'token audience (default identity.lanyard.io; identity.l5d.io with --linkerd)', { env: env('AUDIENCE') }))
    .addOption(textOption('--token-issuer <iss>', `token issuer for jwks (default https://kubernetes.default.svc.cluster.local; dev: ${DEV_TOKEN_ISSUER})`, { env: env('TOKEN_ISSUER') }))
    .addOption(pathOption('--jwks-file <file>', 'JWKS file (jwks validator)', { env: env('JWKS_FILE') }))
    .addOption(textOption('--jwks-url <url>', 'JWKS URL, e.g. https://kubernetes.default.svc/openid/v1/jwks (jwks validator)', { env: env('JWKS_URL') }))
    .addOption(pathOption('--jwks-ca <file>', 'CA bundle for --jwks-url', { env: env('JWKS_CA') }))
    .addOption(pathOption('--jwks-bearer-token-file <file>', 'bearer token sent to --jwks-url', { env: env('JWKS_BEARER_TOKEN_FILE') }))
    .addOption(durationOption('--jwks-max-age <duration>', 'longest time a fetched JWKS is used before it is fetched again (jwks/dev)', { env: env('JWKS_MAX_AGE'), default: '10m', min: 1 }))
    .addOption(durationOption('--token-cache-ttl <duration>', 'how long a verified token is remembered (jwks/dev; 0 disables)', { env: env('TOKEN_CACHE_TTL'), default: '60s' }))
    .addOption(pathOption('--kubeconfig <file>', 'kubeconfig for the kubernetes validator (default: the files the variable lists, merged as kubectl merges them; else in-cluster, else ~/.kube/config)', { env: 'KUBECONFIG' }))
    .addOption(durationOption('--kube-timeout <duration>', 'TokenReview timeout', { env: env('KUBE_TIMEOUT'), default: '5s', min: 1 }))
    .addOption(integerOption('--kube-qps <n>', 'API-server requests per second', { env: env('KUBE_QPS'), default: '20', min: 1 }))
    .addOption(integerOption('--kube-burst <n>', 'API-server request burst', { env: env('KUBE_BURST'), default: '40', min: 1 }))
    .addOption(durationOption('--lifetime <duration>', 'leaf certificate lifetime (never past the issuer NotAfter)', { env: env('LIFETIME'), default: '24h', min: 10_000 }))
    .addOption(durationOption('--skew <duration>', 'NotBefore backdating for clock skew', { env: env('SKEW'), default: '20s' }))
    .addOption(durationOption('--poll-interval <duration>', 'issuer directory poll period (changes are also watched)', { env: env('POLL_INTERVAL'), default: '10s', min: 100 }))
    .addOption(
      valueOption('--workers <n>', 'processes serving Certify on the shared port (auto: one per CPU)', 'integer', { env: env('WORKERS'), default: '1' }, (t) =>
        t.trim() === 'auto' ? availableParallelism() : parseInteger(t, 1, 1024),
      ),
    )
    .addOption(
      textOption('--extra-dns-names <entries>', 'extra DNS names control-plane service accounts may carry, e.g. lanyard-injector=lanyard-injector.lanyard.svc', { env: env('EXTRA_DNS_NAMES') }),
    )
    .addOption(logLevelOption())
    // Connection limits (src/identity/http2-limits.ts); a 0 timeout would close every connection at once.
    .addOption(durationOption('--idle-timeout <duration>', 'close connections with no call in flight after this long (clients reconnect)', { env: env('IDLE_TIMEOUT'), default: '5m', min: 1000 }))
    .addOption(durationOption('--handshake-timeout <duration>', 'time a connection gets for its TLS handshake, and again for its HTTP/2 preface', { env: env('HANDSHAKE_TIMEOUT'), default: '10s', min: 1000 }))
    .addOption(durationOption('--request-timeout <duration>', 'time a call gets to send its request in full (then DEADLINE_EXCEEDED)', { env: env('REQUEST_TIMEOUT'), default: '10s', min: 1000 }))
    .addOption(integerOption('--max-connections <n>', 'connections held at once per process; more are dropped', { env: env('MAX_CONNECTIONS'), default: '10000', min: 1 }))
    .addHelpText(
      'after',
      `
With --validator dev, a development PKI is created on first start in certs/dev or in the
empty (or new) directory --issuer-dir names; a directory holding other files is refused.

Examples:
  npm start                                   # dev PKI in certs/dev, dev tokens
  lanyard identity --validator kubernetes --issuer-dir /var/run/lanyard/issuer --addr :8080
  lanyard identity --validator jwks --jwks-url https://kubernetes.default.svc/openid/v1/jwks \\
      --jwks-ca /var/run/secrets/kubernetes.io/serviceaccount/ca.crt`,
    )
    .action(async (o: IdentityOptions, cmd: Command) => {
      // A KUBECONFIG from the environment may be a list; loadKubeConfig merges it.
      if (cmd.getOptionValueSource('kubeconfig') === 'env') o.kubeconfig = undefined;
      await runIdentity(o);
    });
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
  checkValidatorOptions(o);
  const td = trustDomainFrom(o.trustDomain, o.controlNamespace ?? (o.linkerd ? 'linkerd' : 'lanyard'));
  const controlNamespace = td.controlNamespace;
  const issuerDir = resolve(o.issuerDir);
  const service = {
    host: o.addr.host,
    port: o.addr.port,
    adminHost: o.adminAddr.host,
    adminPort: o.adminAddr.port,
    issuerDir,
    trustAnchors: o.trustAnchors ? resolve(o.trustAnchors) : undefined,
    trustDomain: o.trustDomain,
    controlNamespace,
    lifetimeMs: o.lifetime,
    skewMs: o.skew,
    pollIntervalMs: o.pollInterval,
    // The native addon's ECDSA verify is twice as fast as node:crypto for a fresh key; both
    // make the same checks and give the same error codes (src/pki/csr.ts).
    csrVerifier: loadNative()?.ecdsaVerify,
    extraDnsNames: o.extraDnsNames ? parseFlag('--extra-dns-names', env('EXTRA_DNS_NAMES'), () => ExtraDnsNames.parse(o.extraDnsNames!, td)) : undefined,
    idleTimeoutMs: o.idleTimeout,
    handshakeTimeoutMs: o.handshakeTimeout,
    requestTimeoutMs: o.requestTimeout,
    maxConnections: o.maxConnections,
  };
  return { addr: o.addr, adminAddr: o.adminAddr, issuerDir, controlNamespace, workers: o.workers, service };
}

/**
 * What can be checked about the validator's options before any worker forks: with
 * `--workers N` a usage error must still stop the service at once with exit 2, not as N
 * workers failing one after the other.
 */
function checkValidatorOptions(o: IdentityOptions): void {
  if (o.validator !== 'jwks') return;
  if (!o.jwksFile === !o.jwksUrl) throw new UsageError('--validator jwks needs exactly one of --jwks-file or --jwks-url');
  if (o.jwksFile) readOptionFile('--jwks-file', env('JWKS_FILE'), o.jwksFile);
  if (o.jwksCa) readOptionFile('--jwks-ca', env('JWKS_CA'), o.jwksCa);
  if (o.jwksBearerTokenFile) readOptionFile('--jwks-bearer-token-file', env('JWKS_BEARER_TOKEN_FILE'), o.jwksBearerTokenFile);
}

/** For the start-up log line: which CSR verifier runs, and why not the native one. */
function verifierFields(): Record<string, string> {
  const st = nativeStatus();
  return st.loaded ? { csr_verifier: 'native' } : { csr_verifier: 'node', native_addon: st.reason ?? 'not loaded' };
}

async function runIdentity(o: IdentityOptions): Promise<void> {
  const s = parseSettings(o);
  const logger = createLogger({ component: 'identity', level: o.logLevel });
  if (cluster.isWorker) return runWorker(o, s, logger.child({ worker: cluster.worker!.id }));

  let devCreated = false;
  if (o.validator === 'dev') {
    // Loaded on demand: the operator tooling pulls in @peculiar/x509, which a production
    // identity service never needs. Created here, before any worker forks.
    const { ensureDevPki, foreignFiles } = await import('../../certs/dev-pki.js');
    refuseForeignIssuerDir(s.issuerDir, foreignFiles(s.issuerDir));
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
      addr: formatAddress({ host: s.addr.host, port: running.port }),
      admin: formatAddress({ host: s.adminAddr.host, port: running.admin.port }),
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
  const cacheTtlMs = o.tokenCacheTtl;
  if (o.validator === 'kubernetes') {
    // @kubernetes/client-node is large; only the kubernetes validator loads it.
    const { K8sTokenValidator } = await import('../identity/validators/k8s-token-validator.js');
    // A kubeconfig that is missing or wrong is the operator's to fix: a usage error.
    return classified(
      () => new K8sTokenValidator({ kubeconfigPath: o.kubeconfig, audience, requestTimeoutMs: o.kubeTimeout, qps: o.kubeQps, burst: o.kubeBurst, logger }),
      isKubeconfigError,
    );
  }
  const cache = new TokenCache({ ttlMs: cacheTtlMs });
  const maxAgeMs = o.jwksMaxAge;
  if (o.validator === 'dev') {
    const source = new JwksSource({ location: { file: join(issuerDir, 'token-signing.jwks.json') }, maxAgeMs });
    return new JwksTokenValidator({ source, issuer: o.tokenIssuer ?? DEV_TOKEN_ISSUER, audience, kind: 'dev', cache });
  }
  const bearerFile = o.jwksBearerTokenFile;
  const source = new JwksSource({
    location: o.jwksFile
      ? { file: resolve(o.jwksFile) }
      : {
          url: o.jwksUrl!,
          ca: o.jwksCa ? readOptionFile('--jwks-ca', env('JWKS_CA'), o.jwksCa) : undefined,
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

/**
 * A development PKI goes only where it cannot mix with an operator's files: the default
 * directory, or one that is empty, new, or already a development PKI. Otherwise the anchor
 * and issuer keys would land beside, say, a real issuer's tls.crt/tls.key.
 */
function refuseForeignIssuerDir(dir: string, foreign: string[]): void {
  if (dir === resolve(defaultDevDir()) || foreign.length === 0) return;
  const shown = foreign.slice(0, 4).join(', ') + (foreign.length > 4 ? `, … (${foreign.length} files)` : '');
  throw new UsageError(
    `--issuer-dir (env ${env('ISSUER_DIR')}): ${dir} holds files that are not a development PKI (${shown}); ` +
      'with --validator dev a development PKI is created only in certs/dev or in an empty directory. ' +
      'Pass an empty or new directory, or serve the issuer in it with --validator kubernetes or --validator jwks',
  );
}
