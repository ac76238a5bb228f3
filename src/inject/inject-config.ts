/**
 * What an injected pod gets, as data: the values that shape the sidecar, resolved once.
 * `lanyard inject` builds it from the same values as `lanyard install` (so a workload is
 * injected for the control plane that was installed), the injector from its flags.
 */
import { parseDuration } from '../util/duration.js';
import { TrustDomain } from '../pki/names.js';
import { imageRef, type InstallValues, type Resources } from '../install/values.js';
import { componentName, PORTS } from './mesh-names.js';

export interface InjectConfig {
  image: string;
  imagePullPolicy: string;
  /** Recorded in the proxy-version annotation (the image tag). */
  proxyVersion: string;
  trustDomain: string;
  controlNamespace: string;
  /** `lanyard-identity.<ns>.svc.<cluster-domain>:8080`. */
  identityAddr: string;
  /** The identity service's own identity, which the proxy verifies. */
  identityName: string;
  discoveryAddr: string;
  /** Discovery's own identity, which the proxy verifies (its answers decide whom the proxy expects). */
  discoveryName: string;
  tokenAudience: string;
  tokenExpirationSeconds: number;
  /** bundleFingerprint() of the trust bundle, or null when it is not known (then no annotation). */
  bundleFingerprint: string | null;
  nativeSidecar: boolean;
  logLevel: string;
  proxyResources: Resources;
  initResources: Resources;
}

export function injectConfigFrom(v: InstallValues, bundleFingerprint: string | null): InjectConfig {
  const td = new TrustDomain(v.trustDomain, v.controlNamespace);
  const svc = (name: string, port: number) => `${name}.${v.controlNamespace}.svc.${v.clusterDomain}:${port}`;
  return {
    image: imageRef(v),
    imagePullPolicy: v.image.pullPolicy,
    proxyVersion: v.image.tag,
    trustDomain: v.trustDomain,
    controlNamespace: v.controlNamespace,
    identityAddr: svc(componentName('identity'), PORTS.identity),
    identityName: td.identity({ namespace: v.controlNamespace, serviceAccount: componentName('identity') }),
    discoveryAddr: svc(componentName('discovery'), PORTS.discovery),
    discoveryName: td.identity({ namespace: v.controlNamespace, serviceAccount: componentName('discovery') }),
    tokenAudience: v.identity.audience,
    tokenExpirationSeconds: Math.round(parseDuration(v.proxy.tokenExpiration) / 1000),
    bundleFingerprint,
    nativeSidecar: v.proxy.nativeSidecar,
    logLevel: v.proxy.logLevel,
    proxyResources: v.proxy.resources,
    initResources: v.proxyInit.resources,
  };
}
