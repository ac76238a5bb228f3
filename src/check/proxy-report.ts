/**
 * What a proxy says about itself on its admin port (`/ready`, `/identity`; CONTRACTS.md), read
 * the way `lanyard check` and `lanyard certs rotate` need it. Parsing is tolerant: fields the
 * rotation work adds (`issuer_fingerprint_sha256`, `chains_to`, `bundle_fingerprint`, `now`,
 * `identity_service_skew_ms`) are used when present and derived from today's fields when not
 * (the issuer is the chain's second certificate). The collector is the only I/O here.
 */
import { adminGet } from './admin-get.js';
import type { ClockSample } from './clock-skew.js';

export interface ProxyAnchor {
  subject: string;
  fingerprint: string;
  notAfter: string | null;
}

export interface ProxyIdentity {
  localIdentity: string | null;
  serial: string | null;
  notBefore: string | null;
  notAfter: string | null;
  chain: { subject: string; issuer: string; fingerprint: string }[];
  /** The certificate that signed the leaf: `issuer_fingerprint_sha256`, else the chain's second certificate. */
  issuerFingerprint: string | null;
  /** Fingerprints of the anchors the chain verifies to, when the proxy reports them. */
  chainsTo: string[] | null;
  anchors: ProxyAnchor[];
  bundleFingerprint: string | null;
  /** The proxy's clock, ISO, when reported. */
  now: string | null;
  identityServiceSkewMs: number | null;
  lastError: string | null;
}

export interface ProxyObservation {
  /** `host:port` of the admin listener. */
  address: string;
  /** `namespace/pod` when found through Kubernetes. */
  pod?: string;
  /** Why the admin port did not answer usefully; null when it did. */
  error: string | null;
  ready: boolean | null;
  /** The /ready body when not ready (it says why). */
  readyReason: string | null;
  identity: ProxyIdentity | null;
  clock: ClockSample | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);
const fp = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v.toUpperCase() : null);

/** `/identity`'s JSON as far as we read it; throws when it is not an object. */
export function parseProxyIdentity(body: unknown): ProxyIdentity {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new Error('/identity did not answer a JSON object');
  const b = body as Record<string, unknown>;
  const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter((x): x is Record<string, unknown> => !!x && typeof x === 'object') : []);
  const chain = list(b.chain).map((c) => ({ subject: str(c.subject) ?? '', issuer: str(c.issuer) ?? '', fingerprint: fp(c.fingerprint_sha256) ?? '' }));
  const anchors = list(b.anchors).flatMap((a) => {
    const f = fp(a.fingerprint_sha256);
    return f ? [{ subject: str(a.subject) ?? '', fingerprint: f, notAfter: str(a.not_after) }] : [];
  });
  const chainsTo = Array.isArray(b.chains_to) ? b.chains_to.map(fp).filter((x): x is string => x !== null) : null;
  return {
    localIdentity: str(b.local_identity),
    serial: str(b.serial),
    notBefore: str(b.not_before),
    notAfter: str(b.not_after),
    chain,
    issuerFingerprint: fp(b.issuer_fingerprint_sha256) ?? (chain[1]?.fingerprint || null),
    chainsTo,
    anchors,
    bundleFingerprint: str(b.bundle_fingerprint),
    now: str(b.now),
    identityServiceSkewMs: typeof b.identity_service_skew_ms === 'number' ? b.identity_service_skew_ms : null,
    lastError: str(b.last_error),
  };
}

/** `namespace/pod (10.0.0.7:4191)` or the address alone: how a proxy is named in messages. */
export function proxyName(p: Pick<ProxyObservation, 'address' | 'pod'>): string {
  return p.pod ? `${p.pod} (${p.address})` : p.address;
}

export interface ReadProxyOptions {
  /** Per request. Default 5s. */
  timeoutMs?: number;
  /** Default: the system clock. */
  clock?: () => number;
}

/** Reads `/ready` and `/identity` from the admin listener at `address` (`host:port`). Never throws. */
export async function readProxy(address: string, o: ReadProxyOptions = {}, pod?: string): Promise<ProxyObservation> {
  const clock = o.clock ?? Date.now;
  const timeoutMs = o.timeoutMs ?? 5000;
  const out: ProxyObservation = { address, pod, error: null, ready: null, readyReason: null, identity: null, clock: null };
  try {
    const ready = await adminGet(address, '/ready', timeoutMs);
    out.ready = ready.status === 200;
    out.readyReason = out.ready ? null : ready.body.trim().replace(/^not ready: /, '');
    const sentAt = clock();
    const res = await adminGet(address, '/identity', timeoutMs);
    const receivedAt = clock();
    if (res.status !== 200) throw new Error(`/identity answered HTTP ${res.status}`);
    out.identity = parseProxyIdentity(parseJson(res.body));
    out.clock = { sentAt, receivedAt, date: res.date, remoteNow: out.identity.now };
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('/identity did not answer JSON');
  }
}
