/**
 * The `lanyard-identity-service` category: the running identity service as a proxy meets it
 * (TLS with the expected name, a chain that verifies to the bundle) and as Kubernetes probes
 * it (`/ready`), plus whether it signs with the issuer checked in `lanyard-identity` and
 * whether its clock agrees with ours. Pure: observations in, checks out.
 */
import type { X509Certificate } from 'node:crypto';
import { TrustBundle, describe } from '../pki/trust-bundle.js';
import { parseCertificate } from '../pki/certificate.js';
import { describeSkew, estimateSkew, judgeSkew, type SkewLimits } from './clock-skew.js';
import { fail, ok, skip, warn, type CheckCategory, type CheckResult } from './check-result.js';
import type { AdminObservation, TlsObservation } from './identity-probe.js';

export const IDENTITY_SERVICE_CATEGORY = 'lanyard-identity-service';

export interface IdentityServiceInput {
  /** The Certify listener's handshake; null when no address was given. */
  tls: TlsObservation | null;
  /** The admin listener; null when no address was given. */
  admin: AdminObservation | null;
  /** The name proxies expect it to present. */
  expectedName: string;
  anchors: readonly X509Certificate[] | null;
  /** The issuer read from files or the cluster, to compare with the one it signs with; null when unknown. */
  issuer: X509Certificate | null;
  /** Where that issuer was read, for messages. */
  issuerSource?: string;
  now: Date;
  skew: SkewLimits;
}

const D = {
  reachable: ['identity-reachable', 'the identity service completes a TLS handshake'],
  name: ['identity-name', 'it presents the name proxies expect'],
  chain: ['identity-chain-verifies', 'its serving chain verifies to the trust bundle'],
  issuer: ['identity-serving-issuer', 'it signs with the issuer checked above'],
  ready: ['identity-ready', 'it is ready (a valid issuer is loaded)'],
  skew: ['identity-clock-skew', "its clock agrees with this machine's"],
} as const;

export function checkIdentityService(input: IdentityServiceInput): CheckCategory {
  const checks: CheckResult[] = [];
  const t = input.tls;
  if (!t) checks.push(...[D.reachable, D.name, D.chain, D.issuer].map(([id, d]) => skip(id, d, 'no Certify address given (--identity-addr)')));
  else if (t.error || !t.chain.length) {
    checks.push(fail(D.reachable[0], D.reachable[1], [`${t.address}: ${t.error ?? 'no certificate presented'}`], 'is it running and listening there? (`lanyard identity --addr`, the lanyard-identity Service on a cluster)'));
    checks.push(...[D.name, D.chain, D.issuer].map(([id, d]) => skip(id, d, 'no handshake')));
  } else checks.push(ok(D.reachable[0], D.reachable[1], [t.address]), nameCheck(t.chain[0], input.expectedName), chainCheck(t.chain, input), issuerCheck(t.chain, input));
  checks.push(...adminChecks(input));
  return { name: IDENTITY_SERVICE_CATEGORY, checks };
}

function nameCheck(leaf: X509Certificate, want: string): CheckResult {
  let names: string[] = [];
  try {
    names = parseCertificate(leaf.raw).sans.dns;
  } catch {
    names = [];
  }
  if (names.includes(want)) return ok(D.name[0], D.name[1], [want]);
  return fail(D.name[0], D.name[1], [`it presents ${names.join(', ') || 'no DNS name'}, proxies expect ${want}`], 'proxies refuse it: the trust domain or control namespace differ between the identity service and the proxies (--trust-domain, --control-namespace, LANYARD_PROXY_IDENTITY_NAME)');
}

function chainCheck(chain: X509Certificate[], input: IdentityServiceInput): CheckResult {
  if (!input.anchors) return skip(D.chain[0], D.chain[1], 'no trust bundle to verify against');
  try {
    const { anchor } = new TrustBundle([...input.anchors]).verify(chain, input.now);
    return ok(D.chain[0], D.chain[1], [`to ${describe(anchor)}`]);
  } catch (e) {
    return fail(D.chain[0], D.chain[1], [(e as Error).message], 'proxies holding this bundle cannot certify: the identity service signs with an issuer from another anchor, or the bundle lacks its anchor (add it before moving the issuer)');
  }
}

function issuerCheck(chain: X509Certificate[], input: IdentityServiceInput): CheckResult {
  if (!input.issuer) return skip(D.issuer[0], D.issuer[1], 'no issuer given to compare with');
  const serving = chain[1];
  if (serving && serving.fingerprint256 === input.issuer.fingerprint256) return ok(D.issuer[0], D.issuer[1], [describe(serving)]);
  return warn(
    D.issuer[0],
    D.issuer[1],
    [`it signs with ${serving ? describe(serving) : 'an issuer it does not send'}, not ${describe(input.issuer)}${input.issuerSource ? ` from ${input.issuerSource}` : ''}`],
    'right after an issuer change it reloads within its poll interval; if this persists it refused the new issuer (see `lanyard-identity` above and its issuer_rejected log line), or it reads another directory',
  );
}

function adminChecks(input: IdentityServiceInput): CheckResult[] {
  const a = input.admin;
  if (!a) return [skip(D.ready[0], D.ready[1], 'no admin address given (--identity-admin-addr)'), skip(D.skew[0], D.skew[1], 'no admin address given')];
  if (a.error) return [fail(D.ready[0], D.ready[1], [`${a.address}: ${a.error}`], 'the admin listener is --admin-addr (port 9990 by default)'), skip(D.skew[0], D.skew[1], 'no answer')];
  const ready = a.ready
    ? ok(D.ready[0], D.ready[1])
    : fail(D.ready[0], D.ready[1], [`not ready: ${a.readyReason ?? 'no reason given'}`], 'without a valid issuer every Certify is answered UNAVAILABLE: install a valid one (lanyard certs rotate issuer --step move-issuer)');
  const e = a.clock ? estimateSkew(a.clock) : null;
  const v = judgeSkew(e, input.skew);
  const hint = `run NTP on the identity service's node: leaves are backdated by its --skew (20s by default), no more`;
  const skew =
    v === 'unknown'
      ? skip(D.skew[0], D.skew[1], 'the answer had no Date header')
      : v === 'ok'
        ? ok(D.skew[0], D.skew[1], [describeSkew(e!)])
        : (v === 'fail' ? fail : warn)(D.skew[0], D.skew[1], [describeSkew(e!)], hint);
  return [ready, skew];
}
