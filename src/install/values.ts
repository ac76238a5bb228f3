/**
 * The values `lanyard install` and `lanyard inject` render from: defaults, then a values
 * file (`--values FILE`, YAML or JSON), then `--set key=value` (dotted keys, applied in
 * order), then the flags. Every leaf is checked by src/util's grammar and an error names the
 * key and where it came from, so a typo fails the render instead of reaching the cluster.
 */
import { parseBoolean, parseChoice, parseInteger, quote, ValueError } from '../util/value-error.js';
import { parseDuration } from '../util/duration.js';
import { isDnsLabel, isDnsName } from '../pki/names.js';

export interface Resources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

export interface ComponentValues {
  replicas: number;
  resources: Resources;
}

export interface InstallValues {
  image: { registry: string; name: string; tag: string; pullPolicy: 'Always' | 'IfNotPresent' | 'Never' };
  /** Trust domain of identities and SPIFFE IDs. */
  trustDomain: string;
  /** The cluster's DNS domain, for Service addresses (`<svc>.<ns>.svc.<clusterDomain>`). */
  clusterDomain: string;
  controlNamespace: string;
  /** 3 replicas of each component and PodDisruptionBudgets. */
  ha: boolean;
  identity: ComponentValues & {
    /** Leaf lifetime (Go duration). */
    lifetime: string;
    validator: 'kubernetes' | 'jwks';
    /** jwks validator: where the cluster's signing keys are. */
    jwksUrl: string;
    tokenIssuer: string;
    audience: string;
  };
  discovery: ComponentValues;
  injector: ComponentValues & { failurePolicy: 'Ignore' | 'Fail'; timeoutSeconds: number };
  proxy: {
    resources: Resources;
    logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
    /** Lifetime of the projected service-account token (the kubelet refreshes it). */
    tokenExpiration: string;
    /** Run the proxy as a native sidecar (an init container with restartPolicy Always, Kubernetes 1.29+). */
    nativeSidecar: boolean;
  };
  proxyInit: { resources: Resources };
}

const res = (cpu: string, memory: string, limitCpu: string, limitMemory: string): Resources => ({ requests: { cpu, memory }, limits: { cpu: limitCpu, memory: limitMemory } });
const component = (r: Resources): ComponentValues => ({ replicas: 1, resources: r });

export function defaultValues(version: string): InstallValues {
  return {
    image: { registry: 'ghcr.io/lanyard-mesh', name: 'lanyard', tag: version, pullPolicy: 'IfNotPresent' },
    trustDomain: 'cluster.local',
    clusterDomain: 'cluster.local',
    controlNamespace: 'lanyard',
    ha: false,
    identity: {
      ...component(res('100m', '64Mi', '1', '256Mi')),
      lifetime: '24h',
      validator: 'kubernetes',
      jwksUrl: 'https://kubernetes.default.svc/openid/v1/jwks',
      tokenIssuer: 'https://kubernetes.default.svc.cluster.local',
      audience: 'identity.lanyard.io',
    },
    discovery: component(res('100m', '64Mi', '1', '256Mi')),
    injector: { ...component(res('50m', '64Mi', '500m', '256Mi')), failurePolicy: 'Ignore', timeoutSeconds: 10 },
    proxy: { resources: res('50m', '32Mi', '1', '128Mi'), logLevel: 'info', tokenExpiration: '1h', nativeSidecar: false },
    proxyInit: { resources: res('10m', '10Mi', '100m', '32Mi') },
  };
}

/** Kubernetes resource quantities: `100m`, `1`, `1.5`, `64Mi`, `1G`, `2e3`. */
const QUANTITY = /^(\d+(\.\d+)?|\.\d+)([numkMGTPE]|[KMGTPE]i|[eE][+-]?\d+)?$/;

type Leaf = (text: string) => unknown;

/** How each leaf is checked; keys are dotted paths, `*` matches any component. */
function leafParser(path: string): Leaf | undefined {
  if (/\.resources\.(requests|limits)\.(cpu|memory)$/.test(path)) {
    return (t) => {
      if (!QUANTITY.test(t.trim())) throw new ValueError(`expected a resource quantity such as 100m, 1, 64Mi or 1Gi, got ${quote(t)}`);
      return t.trim();
    };
  }
  const exact: Record<string, Leaf> = {
    'image.registry': (t) => nonEmpty(t, 'an image registry such as ghcr.io/lanyard-mesh'),
    'image.name': (t) => nonEmpty(t, 'an image name'),
    'image.tag': (t) => {
      if (!/^[\w][\w.-]{0,127}$/.test(t.trim())) throw new ValueError(`expected an image tag, got ${quote(t)}`);
      return t.trim();
    },
    'image.pullPolicy': (t) => parseChoice(t, ['Always', 'IfNotPresent', 'Never'] as const),
    trustDomain: (t) => dnsName(t),
    clusterDomain: (t) => dnsName(t),
    controlNamespace: (t) => {
      if (!isDnsLabel(t.trim())) throw new ValueError(`expected a namespace name (DNS-1123 label), got ${quote(t)}`);
      return t.trim();
    },
    ha: parseBoolean,
    'identity.lifetime': (t) => durationAtLeast(t, 10_000),
    'identity.validator': (t) => parseChoice(t, ['kubernetes', 'jwks'] as const),
    'identity.jwksUrl': (t) => {
      if (!/^https:\/\/\S+$/.test(t.trim())) throw new ValueError(`expected an https:// URL, got ${quote(t)}`);
      return t.trim();
    },
    'identity.tokenIssuer': (t) => nonEmpty(t, 'a token issuer'),
    'identity.audience': (t) => nonEmpty(t, 'a token audience'),
    'injector.failurePolicy': (t) => parseChoice(t, ['Ignore', 'Fail'] as const),
    // The API server caps webhook timeouts at 30s.
    'injector.timeoutSeconds': (t) => parseInteger(t, 1, 30),
    'proxy.logLevel': (t) => parseChoice(t, ['fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const),
    // The kubelet refuses projected tokens shorter than 10 minutes.
    'proxy.tokenExpiration': (t) => durationAtLeast(t, 600_000),
    'proxy.nativeSidecar': parseBoolean,
  };
  if (exact[path]) return exact[path];
  if (/^(identity|discovery|injector)\.replicas$/.test(path)) return (t) => parseInteger(t, 1, 100);
  return undefined;
}

function nonEmpty(t: string, what: string): string {
  const v = t.trim();
  if (!v || /\s/.test(v)) throw new ValueError(`expected ${what}, got ${quote(t)}`);
  return v;
}

function dnsName(t: string): string {
  if (!isDnsName(t.trim())) throw new ValueError(`expected a DNS name of lower-case labels, got ${quote(t)}`);
  return t.trim();
}

function durationAtLeast(t: string, minMs: number): string {
  const ms = parseDuration(t);
  if (ms < minMs) throw new ValueError(`must be at least ${minMs / 1000}s, got ${quote(t)}`);
  return t.trim();
}

/** Sets one dotted key from text; unknown keys are refused with the list of known ones nearby. */
export function setValue(values: InstallValues, key: string, text: string): void {
  const parse = leafParser(key);
  const parts = key.split('.');
  let node: Record<string, unknown> = values as unknown as Record<string, unknown>;
  for (const p of parts.slice(0, -1)) {
    const next = node[p];
    if (typeof next !== 'object' || next === null) throw unknownKey(key, values);
    node = next as Record<string, unknown>;
  }
  const last = parts[parts.length - 1];
  if (!parse || !(last in node) || typeof node[last] === 'object') throw unknownKey(key, values);
  node[last] = parse(text);
}

function unknownKey(key: string, values: InstallValues): ValueError {
  return new ValueError(`unknown key ${quote(key)}; known keys: ${leafKeys(values).join(', ')}`);
}

/** Every settable dotted key, for errors and help. */
export function leafKeys(values: object, prefix = ''): string[] {
  return Object.entries(values).flatMap(([k, v]) => (typeof v === 'object' && v !== null ? leafKeys(v, `${prefix}${k}.`) : [`${prefix}${k}`]));
}

/** Applies a parsed values file (nested maps); every leaf goes through setValue. */
export function applyValuesDocument(values: InstallValues, doc: unknown, prefix = ''): void {
  if (doc === null || doc === undefined) return;
  if (typeof doc !== 'object' || Array.isArray(doc)) throw new ValueError(`${prefix ? prefix.slice(0, -1) : 'values'}: expected a map of keys, got ${quote(JSON.stringify(doc))}`);
  for (const [k, v] of Object.entries(doc as Record<string, unknown>)) {
    const key = `${prefix}${k}`;
    if (Array.isArray(v)) throw new ValueError(`${key}: expected a single value or a map of keys, got a list`);
    if (typeof v === 'object' && v !== null) applyValuesDocument(values, v, `${key}.`);
    else setValue(values, key, String(v));
  }
}

/** `key=value` as --set takes it. */
export function parseSetArgument(text: string): { key: string; value: string } {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new ValueError(`expected key=value, got ${quote(text)}`);
  return { key: text.slice(0, eq).trim(), value: text.slice(eq + 1) };
}

/** `--ha` means 3 replicas of every component unless a replica count was given explicitly. */
export function applyHa(values: InstallValues, explicitKeys: ReadonlySet<string>): void {
  if (!values.ha) return;
  for (const c of ['identity', 'discovery', 'injector'] as const) {
    if (!explicitKeys.has(`${c}.replicas`)) values[c].replicas = 3;
  }
}

export const imageRef = (v: InstallValues): string => `${v.image.registry}/${v.image.name}:${v.image.tag}`;
