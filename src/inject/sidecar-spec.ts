/**
 * The objects injection adds to a pod: the `lanyard-init` init container, the proxy
 * container and their volumes. Pure: InjectConfig in, plain Kubernetes JSON out.
 *
 * The trust bundle is mounted from the ConfigMap, never copied into env: the kubelet
 * updates a mounted ConfigMap in place and the proxy reloads the file, so an anchor
 * rotation reaches running pods without a restart (Linkerd's #13613 is the env-copy bug).
 */
import type { InjectConfig } from './inject-config.js';
import type { AppProbeEntry } from '../../proxy/probes/app-probes.js';
import { APP_PROBES_ENV } from './app-probes.js';
import { NO_SKIPPED_PORTS, type SkipPorts } from './skip-ports.js';
import { IMAGE_LANYARD, IMAGE_PROXY, INIT_CONTAINER, PATHS, PORTS, PROXY_CONTAINER, PROXY_UID, TOKEN_FILE, TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY, VOLUMES } from './mesh-names.js';

type Json = Record<string, unknown>;

const fieldRef = (name: string, fieldPath: string): Json => ({ name, valueFrom: { fieldRef: { fieldPath } } });
const env = (name: string, value: string): Json => ({ name, value });

/** The hardening every Lanyard container shares; `lanyard-init` adds its two capabilities. */
export function restrictedSecurityContext(uid: number): Json {
  return {
    runAsUser: uid,
    runAsGroup: uid,
    runAsNonRoot: true,
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** `skip`: the pod's skip-ports annotations, as proxy-init flag values. */
export function initContainer(cfg: InjectConfig, skip: SkipPorts = NO_SKIPPED_PORTS): Json {
  const ignore = [
    ...(skip.inbound ? ['--inbound-ports-to-ignore', skip.inbound] : []),
    ...(skip.outbound ? ['--outbound-ports-to-ignore', skip.outbound] : []),
  ];
  return {
    name: INIT_CONTAINER,
    image: cfg.image,
    imagePullPolicy: cfg.imagePullPolicy,
    command: [IMAGE_LANYARD, 'proxy-init'],
    args: ['--inbound-port', String(PORTS.proxyInbound), '--outbound-port', String(PORTS.proxyOutbound), '--admin-port', String(PORTS.proxyAdmin), '--proxy-uid', String(PROXY_UID), ...ignore],
    resources: cfg.initResources,
    // iptables needs root with NET_ADMIN and NET_RAW, and nothing else.
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    // iptables-legacy takes its lock under /run; the root filesystem is read-only.
    volumeMounts: [{ name: VOLUMES.xtablesLock, mountPath: '/run' }],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
}

/** `appProbes`: the app's probes moved to the admin port (app-probes.ts), which the proxy runs. */
export function proxyContainer(cfg: InjectConfig, appProbes: Record<string, AppProbeEntry> = {}): Json {
  const suffix = `.serviceaccount.identity.${cfg.controlNamespace}.${cfg.trustDomain}`;
  const probe = (path: string): Json => ({ httpGet: { path, port: PORTS.proxyAdmin }, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 });
  const container: Json = {
    name: PROXY_CONTAINER,
    image: cfg.image,
    imagePullPolicy: cfg.imagePullPolicy,
    command: [IMAGE_PROXY],
    env: [
      fieldRef('LANYARD_POD_NAMESPACE', 'metadata.namespace'),
      fieldRef('LANYARD_POD_SERVICE_ACCOUNT', 'spec.serviceAccountName'),
      fieldRef('LANYARD_POD_NAME', 'metadata.name'),
      fieldRef('LANYARD_POD_IP', 'status.podIP'),
      // The kubelet expands $(VAR) from the variables above.
      env('LANYARD_PROXY_LOCAL_IDENTITY', `$(LANYARD_POD_SERVICE_ACCOUNT).$(LANYARD_POD_NAMESPACE)${suffix}`),
      env('LANYARD_PROXY_IDENTITY_ADDR', cfg.identityAddr),
      env('LANYARD_PROXY_IDENTITY_NAME', cfg.identityName),
      env('LANYARD_PROXY_TOKEN_FILE', `${PATHS.tokenDir}/${TOKEN_FILE}`),
      env('LANYARD_PROXY_TRUST_ANCHORS', `${PATHS.trustAnchorsDir}/${TRUST_BUNDLE_KEY}`),
      env('LANYARD_PROXY_IDENTITY_DIR', PATHS.identityDir),
      env('LANYARD_PROXY_TRANSPARENT', 'true'),
      env('LANYARD_PROXY_DISCOVERY_ADDR', cfg.discoveryAddr),
      env('LANYARD_PROXY_DISCOVERY_NAME', cfg.discoveryName),
      env('LANYARD_PROXY_INBOUND_ADDR', `0.0.0.0:${PORTS.proxyInbound}`),
      env('LANYARD_PROXY_OUTBOUND_ADDR', `127.0.0.1:${PORTS.proxyOutbound}`),
      env('LANYARD_PROXY_ADMIN_ADDR', `0.0.0.0:${PORTS.proxyAdmin}`),
      env('LANYARD_TRUST_DOMAIN', cfg.trustDomain),
      env('LANYARD_CONTROL_NAMESPACE', cfg.controlNamespace),
      env('LANYARD_LOG_LEVEL', cfg.logLevel),
      ...(Object.keys(appProbes).length ? [env(APP_PROBES_ENV, JSON.stringify(appProbes))] : []),
    ],
    ports: [
      { name: 'lanyard-proxy', containerPort: PORTS.proxyInbound, protocol: 'TCP' },
      { name: 'lanyard-admin', containerPort: PORTS.proxyAdmin, protocol: 'TCP' },
    ],
    readinessProbe: probe('/ready'),
    livenessProbe: probe('/live'),
    resources: cfg.proxyResources,
    securityContext: restrictedSecurityContext(PROXY_UID),
    volumeMounts: [
      { name: VOLUMES.trustAnchors, mountPath: PATHS.trustAnchorsDir, readOnly: true },
      { name: VOLUMES.token, mountPath: PATHS.tokenDir, readOnly: true },
      { name: VOLUMES.identity, mountPath: PATHS.identityDir },
    ],
    terminationMessagePolicy: 'FallbackToLogsOnError',
  };
  if (cfg.nativeSidecar) {
    // An init container that keeps running: it starts before the app (and the init
    // containers after it), and the startup probe holds them until the proxy has its certificate.
    container.restartPolicy = 'Always';
    container.startupProbe = { httpGet: { path: '/ready', port: PORTS.proxyAdmin }, periodSeconds: 1, failureThreshold: 120 };
  }
  return container;
}

export function sidecarVolumes(cfg: InjectConfig): Json[] {
  return [
    { name: VOLUMES.trustAnchors, configMap: { name: TRUST_BUNDLE_CONFIGMAP, items: [{ key: TRUST_BUNDLE_KEY, path: TRUST_BUNDLE_KEY }] } },
    {
      name: VOLUMES.token,
      projected: { sources: [{ serviceAccountToken: { audience: cfg.tokenAudience, expirationSeconds: cfg.tokenExpirationSeconds, path: TOKEN_FILE } }] },
    },
    // Identity material stays in memory: the key never touches the node's disk.
    { name: VOLUMES.identity, emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
    { name: VOLUMES.xtablesLock, emptyDir: {} },
  ];
}

export const SIDECAR_VOLUME_NAMES: readonly string[] = Object.values(VOLUMES);
