/**
 * The control plane's Deployments, Services and PodDisruptionBudgets. Each component is
 * stateless, so replicas need no coordination: identity and discovery answer from what they
 * read (the issuer volume, the pod watch), and any injector replica can answer any review.
 */
import { restrictedSecurityContext } from '../inject/sidecar-spec.js';
import { COMPONENT_LABEL, componentName, IMAGE_LANYARD, PATHS, PORTS, PROXY_UID, TOKEN_FILE, TRUST_BUNDLE_CONFIGMAP, TRUST_BUNDLE_KEY, VOLUMES, ISSUER_SECRET, injectorServiceName, type Component } from '../inject/mesh-names.js';
import type { Manifest } from './manifest.js';
import { imageRef, type InstallValues } from './values.js';

type Json = Record<string, unknown>;

export const INJECTOR_VALUES_CONFIGMAP = 'lanyard-injector-values';
export const INJECTOR_VALUES_DIR = '/var/run/lanyard/injector';
const KUBE_SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

export const labelsOf = (c: Component): Record<string, string> => ({
  'app.kubernetes.io/name': componentName(c),
  'app.kubernetes.io/part-of': 'lanyard',
  'app.kubernetes.io/component': c,
  [COMPONENT_LABEL]: c,
});
const selectorOf = (c: Component) => ({ [COMPONENT_LABEL]: c });

function argsOf(c: Component, v: InstallValues): string[] {
  const anchors = `${PATHS.trustAnchorsDir}/${TRUST_BUNDLE_KEY}`;
  const common = ['--trust-domain', v.trustDomain, '--control-namespace', v.controlNamespace, '--log-level', 'info'];
  if (c === 'identity') {
    const id = v.identity;
    const jwks = id.validator === 'jwks' ? ['--jwks-url', id.jwksUrl, '--jwks-ca', `${KUBE_SA_DIR}/ca.crt`, '--jwks-bearer-token-file', `${KUBE_SA_DIR}/token`, '--token-issuer', id.tokenIssuer] : [];
    return [
      'identity', '--addr', `0.0.0.0:${PORTS.identity}`, '--admin-addr', `0.0.0.0:${PORTS.identityAdmin}`,
      '--validator', id.validator, ...jwks, '--audience', id.audience,
      '--issuer-dir', PATHS.issuerDir, '--trust-anchors', anchors, '--lifetime', id.lifetime,
      // The one extra name any identity may carry: the webhook's Service name (see extra-dns-names.ts).
      '--extra-dns-names', `${componentName('injector')}=${injectorServiceName(v.controlNamespace)}`,
      ...common,
    ];
  }
  // Discovery and the injector serve TLS with certificates they get through Certify, as workloads do.
  const certify = [
    '--identity-addr', `${componentName('identity')}.${v.controlNamespace}.svc.${v.clusterDomain}:${PORTS.identity}`,
    '--trust-anchors', anchors, '--token-file', `${PATHS.tokenDir}/${TOKEN_FILE}`,
  ];
  if (c === 'discovery') return ['discovery', '--kubernetes', '--addr', `0.0.0.0:${PORTS.discovery}`, '--admin-addr', `0.0.0.0:${PORTS.discoveryAdmin}`, '--tls', 'certify', ...certify, ...common];
  return ['injector', '--addr', `0.0.0.0:${PORTS.injector}`, '--admin-addr', `0.0.0.0:${PORTS.injectorAdmin}`, ...certify, '--values', `${INJECTOR_VALUES_DIR}/values.yaml`, ...common];
}

const ADMIN_PORT: Record<Component, number> = { identity: PORTS.identityAdmin, discovery: PORTS.discoveryAdmin, injector: PORTS.injectorAdmin };
const SERVING_PORT: Record<Component, [string, number]> = { identity: ['grpc', PORTS.identity], discovery: ['grpc', PORTS.discovery], injector: ['https', PORTS.injector] };

function volumesOf(c: Component, v: InstallValues): { volumes: Json[]; mounts: Json[] } {
  const volumes: Json[] = [{ name: VOLUMES.trustAnchors, configMap: { name: TRUST_BUNDLE_CONFIGMAP } }];
  const mounts: Json[] = [{ name: VOLUMES.trustAnchors, mountPath: PATHS.trustAnchorsDir, readOnly: true }];
  if (c === 'identity') {
    // 0440 with the pod's fsGroup: readable by the service's group, by no one else.
    volumes.push({ name: 'issuer', secret: { secretName: ISSUER_SECRET, defaultMode: 0o440 } });
    mounts.push({ name: 'issuer', mountPath: PATHS.issuerDir, readOnly: true });
  }
  if (c !== 'identity') {
    // The token discovery and the injector present to Certify; their keys stay in memory, so
    // nothing is written and the root filesystem stays read-only.
    volumes.push({ name: VOLUMES.token, projected: { sources: [{ serviceAccountToken: { audience: v.identity.audience, expirationSeconds: 3600, path: TOKEN_FILE } }] } });
    mounts.push({ name: VOLUMES.token, mountPath: PATHS.tokenDir, readOnly: true });
  }
  if (c === 'injector') {
    volumes.push({ name: 'values', configMap: { name: INJECTOR_VALUES_CONFIGMAP } });
    mounts.push({ name: 'values', mountPath: INJECTOR_VALUES_DIR, readOnly: true });
  }
  return { volumes, mounts };
}

export function deployment(c: Component, v: InstallValues): Manifest {
  const name = componentName(c);
  const [portName, port] = SERVING_PORT[c];
  const probe = (path: string): Json => ({ httpGet: { path, port: ADMIN_PORT[c] }, periodSeconds: 10, timeoutSeconds: 1, failureThreshold: 3 });
  const { volumes, mounts } = volumesOf(c, v);
  const object = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: v.controlNamespace, labels: labelsOf(c) },
    spec: {
      replicas: v[c].replicas,
      selector: { matchLabels: selectorOf(c) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: labelsOf(c), annotations: { 'lanyard.io/inject': 'disabled' } },
        spec: {
          serviceAccountName: name,
          securityContext: { runAsNonRoot: true, runAsUser: PROXY_UID, runAsGroup: PROXY_UID, fsGroup: PROXY_UID, seccompProfile: { type: 'RuntimeDefault' } },
          // Replicas on different nodes (and zones, where the nodes say), so a node going away takes one at most.
          topologySpreadConstraints: ['kubernetes.io/hostname', 'topology.kubernetes.io/zone'].map((topologyKey) => ({
            maxSkew: 1,
            topologyKey,
            whenUnsatisfiable: 'ScheduleAnyway',
            labelSelector: { matchLabels: selectorOf(c) },
          })),
          containers: [
            {
              name: c,
              image: imageRef(v),
              imagePullPolicy: v.image.pullPolicy,
              command: [IMAGE_LANYARD],
              args: argsOf(c, v),
              ports: [
                { name: portName, containerPort: port, protocol: 'TCP' },
                { name: 'admin', containerPort: ADMIN_PORT[c], protocol: 'TCP' },
              ],
              readinessProbe: probe('/ready'),
              livenessProbe: probe('/live'),
              resources: v[c].resources,
              securityContext: restrictedSecurityContext(PROXY_UID),
              volumeMounts: mounts,
              terminationMessagePolicy: 'FallbackToLogsOnError',
            },
          ],
          volumes,
        },
      },
    },
  };
  return { object, comment: ` ${name}: ${DESCRIPTION[c]}` };
}

const DESCRIPTION: Record<Component, string> = {
  identity: 'verifies service-account tokens and signs workload certificates (Certify).',
  discovery: 'tells proxies which identity to expect at a pod IP, over TLS as lanyard-discovery.',
  injector: 'the mutating admission webhook that adds the proxy to pods that ask for it.',
};

export function service(c: Component, v: InstallValues): Manifest {
  const name = componentName(c);
  const [portName, port] = SERVING_PORT[c];
  return {
    object: {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name, namespace: v.controlNamespace, labels: labelsOf(c) },
      spec: {
        type: 'ClusterIP',
        selector: selectorOf(c),
        // The API server calls webhooks on 443.
        ports: [{ name: portName, port: c === 'injector' ? 443 : port, targetPort: portName, protocol: 'TCP' }],
      },
    },
  };
}

export function disruptionBudget(c: Component, v: InstallValues): Manifest {
  return {
    object: {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: componentName(c), namespace: v.controlNamespace, labels: labelsOf(c) },
      spec: { maxUnavailable: 1, selector: { matchLabels: selectorOf(c) } },
    },
  };
}
