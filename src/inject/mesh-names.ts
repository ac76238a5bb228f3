/**
 * The names `lanyard install`, `lanyard inject`, the injector and discovery agree on: pod
 * annotations, container and volume names, mount paths, ports and control-plane object
 * names. `lanyard check` reads the same ones.
 */

/** `enabled` on a namespace or pod asks the injector for a proxy; `disabled` opts out everywhere. */
export const INJECT_ANNOTATION = 'lanyard.io/inject';
/** Set on every injected pod (template): the proxy image's version. Its presence marks the pod as meshed. */
export const PROXY_VERSION_ANNOTATION = 'lanyard.io/proxy-version';
/** Set on every injected pod (template): bundleFingerprint() of the trust bundle it was injected under. */
export const BUNDLE_FINGERPRINT_ANNOTATION = 'lanyard.io/trust-bundle-sha256';

/** On a pod (template): ports proxy-init leaves alone, `25,587,6000-6010` (skip-ports.ts). */
export const SKIP_INBOUND_PORTS_ANNOTATION = 'lanyard.io/skip-inbound-ports';
export const SKIP_OUTBOUND_PORTS_ANNOTATION = 'lanyard.io/skip-outbound-ports';

export const INIT_CONTAINER = 'lanyard-init';
export const PROXY_CONTAINER = 'lanyard-proxy';
/** Sidecars of other meshes: a pod that has one is left alone. */
export const FOREIGN_PROXY_CONTAINERS = ['linkerd-proxy', 'istio-proxy'];

export const VOLUMES = {
  trustAnchors: 'lanyard-trust-anchors',
  token: 'lanyard-identity-token',
  identity: 'lanyard-identity',
  xtablesLock: 'lanyard-xtables-lock',
} as const;

export const PATHS = {
  trustAnchorsDir: '/var/run/lanyard/trust-anchors',
  tokenDir: '/var/run/secrets/tokens',
  identityDir: '/var/run/lanyard/identity',
  issuerDir: '/var/run/lanyard/issuer',
} as const;

/** The trust-bundle ConfigMap and its key, mounted into every proxy and control-plane pod. */
export const TRUST_BUNDLE_CONFIGMAP = 'lanyard-trust-anchors';
export const TRUST_BUNDLE_KEY = 'ca-bundle.crt';
export const TOKEN_FILE = 'lanyard-identity-token';
export const ISSUER_SECRET = 'lanyard-identity-issuer';

export const PORTS = { proxyInbound: 4143, proxyOutbound: 4140, proxyAdmin: 4191, identity: 8080, identityAdmin: 9990, discovery: 8086, discoveryAdmin: 9996, injector: 8443, injectorAdmin: 9995 } as const;

/** The proxy's UID: iptables leaves its traffic alone (DESIGN.md §3). */
export const PROXY_UID = 2102;

/** Where the image puts the package; the launcher resolves dist/ next to itself. */
export const IMAGE_ROOT = '/opt/lanyard';
export const IMAGE_LANYARD = '/usr/local/bin/lanyard';
export const IMAGE_PROXY = `${IMAGE_ROOT}/proxy/bin/lanyard-proxy`;

export type Component = 'identity' | 'discovery' | 'injector';
export const COMPONENTS: readonly Component[] = ['identity', 'discovery', 'injector'];
/** `lanyard-identity`, ...: the Deployment, Service and ServiceAccount of a component share it. */
export const componentName = (c: Component): string => `lanyard-${c}`;
export const COMPONENT_LABEL = 'lanyard.io/control-plane-component';

/** The DNS name the API server calls the webhook at; its serving certificate must carry it. */
export function injectorServiceName(controlNamespace: string): string {
  return `${componentName('injector')}.${controlNamespace}.svc`;
}
