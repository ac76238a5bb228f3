/**
 * Strict validation of a policy document. Anything unexpected is an error naming its exact
 * path: a typo in a security policy (`identity:` for `identities:`) must stop the proxy, or
 * be refused on reload, rather than silently widen or narrow who may connect.
 */
import { yaml } from '../lazy-yaml.js';
import { isDnsName } from '../../src/pki/names.js';
import { parsePort } from '../../src/util/address.js';
import { parseChoice, ValueError } from '../../src/util/value-error.js';
import { Cidr } from './cidr.js';
import { PolicyError } from './policy-error.js';
import {
  POLICY_NAMES,
  isPolicyName,
  type AllowEntryConfig,
  type DefaultPolicyName,
  type PolicyConfig,
  type PortPolicyConfig,
} from './policy-config.js';

const ROOT_KEYS = ['default', 'clusterNetworks', 'ports'];
const PORT_KEYS = ['default', 'allow', 'audit'];
const ENTRY_KEYS = ['identities', 'spiffeIds', 'networks', 'unauthenticated'];
/** Trust domain and path segments as the SPIFFE ID spec allows them; `/*` only at the end. */
const SPIFFE_ID = /^spiffe:\/\/[a-z0-9._-]+(\/[A-Za-z0-9._-]+)*(\/\*)?$/;

/** The root path, for errors about the document as a whole. */
export const DOCUMENT = '(document)';

function fail(path: string, detail: string): never {
  throw new PolicyError('ERR_POLICY_INVALID', path, detail);
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'object') return 'mapping';
  return typeof v;
}

/** `keys` null: any key (the caller checks them). */
function mapping(v: unknown, path: string, keys: string[] | null): Record<string, unknown> {
  if (kind(v) !== 'mapping') fail(path, `expected a mapping, got ${kind(v)}`);
  const m = v as Record<string, unknown>;
  for (const k of Object.keys(m)) {
    if (keys && !keys.includes(k)) fail(path, `unknown key ${JSON.stringify(k)} (expected one of ${keys.join(', ')})`);
  }
  return m;
}

function strings(v: unknown, path: string, check: (s: string, path: string) => void): string[] {
  if (!Array.isArray(v)) fail(path, `expected a list of strings, got ${kind(v)}`);
  if (v.length === 0) fail(path, 'must not be empty');
  v.forEach((s: unknown, i) => {
    if (typeof s !== 'string') fail(`${path}[${i}]`, `expected a string, got ${kind(s)}`);
    check(s, `${path}[${i}]`);
  });
  return [...(v as string[])];
}

/** Runs a src/util parser on a field; its ValueError becomes a PolicyError at `path`. */
function grammar<T>(path: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (e instanceof ValueError) fail(path, e.message);
    throw e;
  }
}

export function policyName(v: unknown, path: string): DefaultPolicyName {
  if (isPolicyName(v)) return v;
  if (typeof v !== 'string') fail(path, `expected a policy name (one of ${POLICY_NAMES.join(', ')}), got ${kind(v)}`);
  return grammar(path, () => parseChoice(v, POLICY_NAMES));
}

/** A port key: src/util's port grammar, written as the number it is (`8080`, not `08080`). */
function portKey(key: string, path: string): string {
  const n = grammar(path, () => parsePort(key));
  if (String(n) !== key) fail(path, `expected a TCP port written without leading zeros or spaces (${n}), got ${JSON.stringify(key)}`);
  return key;
}

export function checkCidr(s: string, path: string): void {
  const c = Cidr.parse(s);
  if ('error' in c) fail(path, c.error);
}

function checkIdentity(s: string, path: string): void {
  const name = s.startsWith('*.') ? s.slice(2) : s;
  if (s !== '*' && !isDnsName(name)) fail(path, `${JSON.stringify(s)} is not an identity (expected a DNS name, "*.suffix" or "*")`);
}

function checkSpiffeId(s: string, path: string): void {
  const segments = s.slice('spiffe://'.length).split('/').slice(1);
  if (!SPIFFE_ID.test(s) || segments.some((p) => p === '.' || p === '..')) {
    fail(path, `${JSON.stringify(s)} is not a SPIFFE ID (expected spiffe://<trust-domain>/<path>, optionally ending in "/*")`);
  }
}

export function cidrList(v: unknown, path: string): string[] {
  return strings(v, path, checkCidr);
}

function allowEntry(v: unknown, path: string): AllowEntryConfig {
  const m = mapping(v, path, ENTRY_KEYS);
  const out: AllowEntryConfig = {};
  if (m.identities !== undefined) out.identities = strings(m.identities, `${path}.identities`, checkIdentity);
  if (m.spiffeIds !== undefined) out.spiffeIds = strings(m.spiffeIds, `${path}.spiffeIds`, checkSpiffeId);
  if (m.networks !== undefined) out.networks = cidrList(m.networks, `${path}.networks`);
  if (m.unauthenticated !== undefined) {
    if (typeof m.unauthenticated !== 'boolean') fail(`${path}.unauthenticated`, `expected true or false, got ${kind(m.unauthenticated)}`);
    if (m.unauthenticated) {
      // Combined with a condition it would read as "only these" while admitting everyone.
      if (out.identities || out.spiffeIds || out.networks) {
        fail(path, 'unauthenticated: true admits every peer and cannot be combined with identities, spiffeIds or networks');
      }
      out.unauthenticated = true;
    }
  }
  if (!out.identities && !out.spiffeIds && !out.networks && !out.unauthenticated) {
    fail(path, 'an allow entry needs identities, spiffeIds, networks or unauthenticated: true');
  }
  return out;
}

function portPolicy(v: unknown, path: string): PortPolicyConfig {
  const m = mapping(v, path, PORT_KEYS);
  if (m.default !== undefined && m.allow !== undefined) fail(path, 'set either default or allow, not both');
  if (m.audit !== undefined && typeof m.audit !== 'boolean') fail(`${path}.audit`, `expected true or false, got ${kind(m.audit)}`);
  const audit = m.audit === true ? { audit: true } : {};
  if (m.default !== undefined) return { default: policyName(m.default, `${path}.default`), ...audit };
  if (m.allow === undefined) fail(path, 'needs default or allow');
  if (!Array.isArray(m.allow)) fail(`${path}.allow`, `expected a list of allow entries, got ${kind(m.allow)}`);
  if (m.allow.length === 0) fail(`${path}.allow`, 'must not be empty (use default: deny to refuse every peer)');
  return { allow: m.allow.map((e: unknown, i) => allowEntry(e, `${path}.allow[${i}]`)), ...audit };
}

function ports(v: unknown, path: string): Record<string, PortPolicyConfig> {
  const m = mapping(v, path, null);
  const out: Record<string, PortPolicyConfig> = {};
  for (const [port, p] of Object.entries(m)) {
    out[portKey(port, `${path}.${port}`)] = portPolicy(p, `${path}.${port}`);
  }
  return out;
}

/** Validates a parsed document; returns a normalized copy. A valid PolicyConfig is valid input. */
export function validatePolicy(doc: unknown): PolicyConfig {
  if (doc === null || doc === undefined) {
    // An empty document must not mean "the default": a file caught half-written would
    // otherwise open every port for a moment.
    fail(DOCUMENT, 'the policy is empty; write "default: all-unauthenticated" to allow every peer explicitly');
  }
  const root = mapping(doc, DOCUMENT, ROOT_KEYS);
  const out: PolicyConfig = {};
  if (root.default !== undefined) out.default = policyName(root.default, 'default');
  if (root.clusterNetworks !== undefined) out.clusterNetworks = cidrList(root.clusterNetworks, 'clusterNetworks');
  if (root.ports !== undefined) out.ports = ports(root.ports, 'ports');
  return out;
}

/** Parses YAML or JSON text (JSON is YAML) and validates it. Duplicate keys are errors. */
export function parsePolicy(text: string): PolicyConfig {
  const { LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter: lines });
  const err = doc.errors[0];
  if (err) {
    const { line, col } = lines.linePos(err.pos[0]);
    const at = ` at line ${line}, column ${col}`;
    throw new PolicyError('ERR_POLICY_SYNTAX', DOCUMENT, `not valid YAML or JSON${at}: ${err.message.split('\n')[0]}`);
  }
  return validatePolicy(doc.toJS({ maxAliasCount: 100 }));
}
