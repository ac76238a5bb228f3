/**
 * The `lanyard-identity` category: the trust anchors and the issuer, wherever they were read
 * from (files, the cluster's Secret and ConfigMap, or the identity service's serving chain).
 * Modelled on `linkerd check`'s linkerd-identity checks, plus key match and path length.
 * Pure: texts in, checks out; the issuer's verdicts are check-issuer.ts's (issuer-findings.ts).
 */
import { X509Certificate } from 'node:crypto';
import type { IssuerErrorCode } from '../identity/check-issuer.js';
import { parseCertificate } from '../pki/certificate.js';
import { certificatesFromPem } from '../pki/pem.js';
import { TrustBundle, describe } from '../pki/trust-bundle.js';
import { unsupportedAlgorithm } from './certificate-algorithm.js';
import { fail, ok, skip, warn, type CheckCategory, type CheckResult } from './check-result.js';
import { formatDuration } from '../util/duration.js';
import { isoTime, remainingMs, span, validityAt } from './expiry.js';
import { issuerFindings, judged, type IssuerFindings } from './issuer-findings.js';

/** Text read from somewhere, or why it could not be. `source` names it in messages (`--trust-anchors ca.crt`). */
export type Sourced<T> = ({ ok: true } & T & { source: string }) | { ok: false; source: string; error: string };

export interface PkiInput {
  /** null: no bundle was given (the checks that need one are skipped). */
  bundle: Sourced<{ pem: string }> | null;
  /** `keyPem` null: only the certificate is known (e.g. from the identity service's chain). */
  issuer: Sourced<{ certPem: string; keyPem: string | null }> | null;
}

export interface PkiCheckOptions {
  now: Date;
  /** Warn about an anchor or issuer that expires within this many ms. */
  expiryWarningMs: number;
}

/** What later categories need from this one. */
export interface PkiFacts {
  anchors: X509Certificate[] | null;
  /** The issuer certificate (first of its file). */
  issuer: X509Certificate | null;
  /** The anchor the issuer chains to, now. */
  issuerAnchor: X509Certificate | null;
  findings: IssuerFindings | null;
}

export const PKI_CATEGORY = 'lanyard-identity';

const ROTATE_ANCHOR = 'rotate it: lanyard certs rotate anchor --new-anchor NEW.crt ... (README: "Rotating the trust anchor")';
const EXPIRED_HELP = 'README: "When an anchor or issuer has already expired"';

export function checkPki(input: PkiInput, o: PkiCheckOptions): { category: CheckCategory; facts: PkiFacts } {
  const anchors = parseAnchors(input.bundle);
  const checks: CheckResult[] = anchorChecks(input.bundle, anchors, o);
  const issuer = issuerChecks(input, anchors.certs, o);
  checks.push(...issuer.checks);
  return { category: { name: PKI_CATEGORY, checks }, facts: { anchors: anchors.certs, ...issuer.facts } };
}

function parseAnchors(b: PkiInput['bundle']): { certs: X509Certificate[] | null; error: string | null } {
  if (!b) return { certs: null, error: null };
  if (!b.ok) return { certs: null, error: `${b.source}: ${b.error}` };
  try {
    return { certs: [...TrustBundle.fromPem(b.pem, b.source).anchors], error: null };
  } catch (e) {
    return { certs: null, error: `${b.source}: ${(e as Error).message}` };
  }
}

function anchorChecks(b: PkiInput['bundle'], parsed: ReturnType<typeof parseAnchors>, o: PkiCheckOptions): CheckResult[] {
  const readable = 'the trust bundle holds CA certificates';
  const later = [
    ['anchors-algorithm', 'trust anchors use a supported algorithm'],
    ['anchors-time-valid', 'trust anchors are within their validity period'],
    ['anchors-not-expiring-soon', `trust anchors are valid for at least ${formatDuration(o.expiryWarningMs)}`],
  ] as const;
  if (!b) return [skip('anchors-readable', readable, 'no trust bundle given (--trust-anchors FILE, or --kubernetes)'), ...later.map(([id, d]) => skip(id, d, 'no trust bundle'))];
  const anchors = parsed.certs;
  if (!anchors) {
    return [
      fail('anchors-readable', readable, [parsed.error ?? 'unreadable'], 'the bundle must be PEM CERTIFICATE blocks of CA certificates; `lanyard certs bundle list --bundle FILE` shows what a file holds'),
      ...later.map(([id, d]) => skip(id, d, 'the trust bundle could not be read')),
    ];
  }
  const out = [ok('anchors-readable', readable, anchors.map((a) => `${describe(a)} ${a.fingerprint256}`))];
  const badAlg = anchors.flatMap((a) => {
    const why = unsupportedAlgorithm(a, 'anchor');
    return why ? [`${describe(a)}: ${why}`] : [];
  });
  out.push(badAlg.length ? fail(later[0][0], later[0][1], badAlg, `create a new anchor (lanyard certs create-anchor) and ${ROTATE_ANCHOR}`) : ok(later[0][0], later[0][1]));
  out.push(anchorTimeCheck(anchors, o, later[1][1]));
  const soon = anchors.filter((a) => validityAt(a, o.now) === 'valid' && remainingMs(a, o.now) < o.expiryWarningMs);
  out.push(
    soon.length
      ? warn(later[2][0], later[2][1], soon.map((a) => `${describe(a)} expires at ${isoTime(a.validTo)} (in ${span(remainingMs(a, o.now))})`), ROTATE_ANCHOR)
      : ok(later[2][0], later[2][1]),
  );
  return out;
}

function anchorTimeCheck(anchors: X509Certificate[], o: PkiCheckOptions, description: string): CheckResult {
  const bad = anchors.filter((a) => validityAt(a, o.now) !== 'valid');
  if (!bad.length) return ok('anchors-time-valid', description);
  const details = bad.map((a) =>
    validityAt(a, o.now) === 'expired' ? `${describe(a)} expired at ${isoTime(a.validTo)} (${span(-remainingMs(a, o.now))} ago)` : `${describe(a)} is not valid before ${isoTime(a.validFrom)}`,
  );
  const allBad = bad.length === anchors.length;
  const hint = allBad
    ? `no anchor of the bundle is valid: proxies refuse every peer. Create a new anchor and issuer and install both at once (${EXPIRED_HELP})`
    : `an expired anchor verifies nothing; remove it: lanyard certs bundle remove --bundle FILE --fingerprint SHA256 (or its Kubernetes ConfigMap). A not-yet-valid one points at a wrong clock here or where it was made`;
  return fail('anchors-time-valid', description, details, hint);
}

interface IssuerOutcome {
  checks: CheckResult[];
  facts: Omit<PkiFacts, 'anchors'>;
}

const ISSUER = {
  readable: ['issuer-readable', 'the issuer certificate and key are readable'],
  algorithm: ['issuer-algorithm', 'the issuer uses a supported algorithm (ECDSA P-256 or P-384)'],
  time: ['issuer-time-valid', 'the issuer certificate is within its validity period'],
  ca: ['issuer-is-ca', 'the issuer is a CA certificate'],
  key: ['issuer-key-matches', 'the issuer key matches its certificate'],
  pathLen: ['issuer-path-length', 'the issuer may sign workload certificates only (path length 0)'],
  chain: ['issuer-chains-to-anchor', 'the issuer certificate is issued by a trust anchor'],
} as const;

function issuerChecks(input: PkiInput, anchors: X509Certificate[] | null, o: PkiCheckOptions): IssuerOutcome {
  const soonDescription = `the issuer certificate is valid for at least ${formatDuration(o.expiryWarningMs)}`;
  const all = (reason: string): CheckResult[] => {
    const out = Object.values(ISSUER).map(([id, d]) => skip(id, d, reason));
    out.splice(3, 0, skip('issuer-not-expiring-soon', soonDescription, reason));
    return out;
  };
  const none = { issuer: null, issuerAnchor: null, findings: null };
  const src = input.issuer;
  if (!src) return { checks: all('no issuer given (--issuer DIR, --identity-addr, or --kubernetes)'), facts: none };
  if (!src.ok) {
    const checks = all('the issuer could not be read');
    checks[0] = fail(ISSUER.readable[0], ISSUER.readable[1], [`${src.source}: ${src.error}`], 'point --issuer at the directory the identity service reads (tls.crt and tls.key, crt.pem and key.pem, or issuer.crt and issuer.key)');
    return { checks, facts: none };
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificatesFromPem(src.certPem, `${src.source} certificate`)[0]);
  } catch (e) {
    const checks = all('the issuer certificate could not be read');
    checks[0] = fail(ISSUER.readable[0], ISSUER.readable[1], [(e as Error).message], 'the issuer certificate file must hold the issuer first, as PEM');
    return { checks, facts: none };
  }
  const bundleText = input.bundle?.ok ? input.bundle.pem : null;
  const findings = src.keyPem !== null ? issuerFindings({ certPem: src.certPem, keyPem: src.keyPem, bundlePem: bundleText ?? '' }, o.now) : null;
  const issuerAnchor = anchorOf(src.certPem, anchors, o.now);
  const certificateOnly = fromCertificateOnly(src.certPem, cert, anchors, o.now);
  const checks = findings ? fromFindings(findings, cert, src.source, anchors !== null, certificateOnly) : certificateOnly;
  checks.splice(3, 0, expiringSoon(cert, o, soonDescription));
  return { checks, facts: { issuer: cert, issuerAnchor, findings } };
}

function anchorOf(certPem: string, anchors: X509Certificate[] | null, now: Date): X509Certificate | null {
  if (!anchors) return null;
  try {
    const chain = certificatesFromPem(certPem, 'issuer').map((d) => new X509Certificate(d));
    return new TrustBundle(anchors).verify(chain, now).anchor;
  } catch {
    return null;
  }
}

function expiringSoon(cert: X509Certificate, o: PkiCheckOptions, description: string): CheckResult {
  if (validityAt(cert, o.now) !== 'valid') return skip('issuer-not-expiring-soon', description, 'the issuer is not valid now');
  const left = remainingMs(cert, o.now);
  if (left >= o.expiryWarningMs) return ok('issuer-not-expiring-soon', description, [`expires at ${isoTime(cert.validTo)} (in ${span(left)})`]);
  return warn('issuer-not-expiring-soon', description, [`${describe(cert)} expires at ${isoTime(cert.validTo)} (in ${span(left)})`], 'rotate the issuer: lanyard certs rotate issuer --ca-cert ANCHOR.crt --ca-key ANCHOR.key ... (README: "Rotating the issuer")');
}

/**
 * The issuer checks from check-issuer.ts's verdicts. Where a key problem stopped it before a
 * check, that check is judged on the certificate alone (its time, CA flag and chain do not
 * depend on the key).
 */
function fromFindings(f: IssuerFindings, cert: X509Certificate, source: string, haveBundle: boolean, certificateOnly: CheckResult[]): CheckResult[] {
  const keyProblem = f.stoppedAt === 'ERR_ISSUER_KEY' || f.stoppedAt === 'ERR_ISSUER_KEY_MISMATCH';
  const verdict = (key: keyof typeof ISSUER, codes: IssuerErrorCode[], hint: string): CheckResult => {
    const [id, description] = ISSUER[key];
    const hit = codes.find((c) => f.found.has(c));
    if (hit) return fail(id, description, [`${f.found.get(hit)} (${hit})`], hint);
    if (!codes.every((c) => judged(f, c))) {
      const alone = certificateOnly.find((c) => c.id === id);
      if (keyProblem && alone) return alone;
      return skip(id, description, `not judged: ${f.found.get(f.stoppedAt!) ?? 'an earlier check failed'}`);
    }
    return ok(id, description);
  };
  const algorithm = unsupportedAlgorithm(cert, 'issuer') ?? f.found.get('ERR_ISSUER_ALGORITHM') ?? null;
  const out: CheckResult[] = [
    verdict('readable', ['ERR_ISSUER_CERT', 'ERR_ISSUER_KEY'], `${source} must hold the issuer certificate (PEM) and its unencrypted private key`),
    algorithm
      ? fail(ISSUER.algorithm[0], ISSUER.algorithm[1], [`${describe(cert)}: ${algorithm}`], 'create an ECDSA issuer: lanyard certs create-issuer (P-256 by default), then lanyard certs rotate issuer')
      : ok(ISSUER.algorithm[0], ISSUER.algorithm[1]),
    verdict('time', ['ERR_ISSUER_EXPIRED', 'ERR_ISSUER_NOT_YET_VALID'], `the identity service does not sign with it (Certify answers UNAVAILABLE, proxies cannot renew). Install a new issuer now: lanyard certs rotate issuer --step move-issuer ...; no proxy needs a restart (${EXPIRED_HELP})`),
    verdict('ca', ['ERR_ISSUER_NOT_CA'], 'the issuer must be a CA (basicConstraints CA:TRUE, keyUsage keyCertSign): create one with lanyard certs create-issuer'),
    verdict('key', ['ERR_ISSUER_KEY_MISMATCH'], 'the key file is not the key of the certificate (a half-finished update?): put the matching pair back; the identity service keeps signing with its last good issuer meanwhile'),
    pathLength(cert, f),
  ];
  const [id, description] = ISSUER.chain;
  if (!haveBundle) out.push(skip(id, description, 'no trust bundle'));
  else if (!f.chainJudged && !f.found.has('ERR_ISSUER_CHAIN') && keyProblem) out.push(certificateOnly.find((c) => c.id === id)!);
  else if (!f.chainJudged && !f.found.has('ERR_ISSUER_CHAIN')) out.push(skip(id, description, `not judged: ${f.found.get(f.stoppedAt ?? 'ERR_ISSUER_BUNDLE') ?? 'the trust bundle is unusable'}`));
  else out.push(verdict('chain', ['ERR_ISSUER_CHAIN'], 'add the issuer\'s anchor to the bundle (lanyard certs bundle add), or install an issuer signed by an anchor the bundle holds'));
  return out;
}

/**
 * TrustBundle.verify refuses a path-length violation with "has path length N but M CA
 * certificates follow it" inside ERR_ISSUER_CHAIN; that one is reported here as well.
 */
function pathLength(cert: X509Certificate, f: IssuerFindings | null): CheckResult {
  const [id, description] = ISSUER.pathLen;
  const chainError = f?.found.get('ERR_ISSUER_CHAIN');
  if (chainError && / has path length \d+ but \d+ CA certificates follow it/.test(chainError)) {
    return fail(id, description, [chainError], 'an anchor (or intermediate) with a path length constraint cannot have this many CAs below it: sign the issuer directly with the anchor');
  }
  let limit: number | null;
  try {
    limit = parseCertificate(cert.raw).pathLen;
  } catch {
    return skip(id, description, 'the certificate\'s extensions cannot be read');
  }
  if (!cert.ca) return skip(id, description, 'the issuer is not a CA');
  if (limit === 0) return ok(id, description);
  return warn(
    id,
    description,
    [`${describe(cert)} has ${limit === null ? 'no path length limit' : `path length ${limit}`}: its key can sign further CAs`],
    'a stolen issuer key could then mint intermediates every proxy trusts; issue issuers with path length 0 (lanyard certs create-issuer does)',
  );
}

/** Without the key (the certificate came from the identity service's chain): what the certificate alone shows. */
function fromCertificateOnly(certPem: string, cert: X509Certificate, anchors: X509Certificate[] | null, now: Date): CheckResult[] {
  const time = validityAt(cert, now);
  const algorithm = unsupportedAlgorithm(cert, 'issuer');
  const out: CheckResult[] = [
    ok(ISSUER.readable[0], ISSUER.readable[1], ['certificate only: read from the identity service\'s serving chain']),
    algorithm ? fail(ISSUER.algorithm[0], ISSUER.algorithm[1], [`${describe(cert)}: ${algorithm}`], 'create an ECDSA issuer and rotate to it') : ok(ISSUER.algorithm[0], ISSUER.algorithm[1]),
    time === 'valid'
      ? ok(ISSUER.time[0], ISSUER.time[1])
      : fail(ISSUER.time[0], ISSUER.time[1], [time === 'expired' ? `${describe(cert)} expired at ${isoTime(cert.validTo)}` : `${describe(cert)} is not valid before ${isoTime(cert.validFrom)}`], `install a new issuer (${EXPIRED_HELP})`),
    cert.ca ? ok(ISSUER.ca[0], ISSUER.ca[1]) : fail(ISSUER.ca[0], ISSUER.ca[1], [`${describe(cert)} is not a CA certificate`], 'the issuer must be a CA'),
    skip(ISSUER.key[0], ISSUER.key[1], 'the issuer key is not available here (pass --issuer DIR or --kubernetes)'),
    pathLength(cert, null),
  ];
  const [id, description] = ISSUER.chain;
  if (!anchors) out.push(skip(id, description, 'no trust bundle'));
  else {
    try {
      new TrustBundle(anchors).verify(certificatesFromPem(certPem, 'issuer').map((d) => new X509Certificate(d)), now);
      out.push(ok(id, description));
    } catch (e) {
      out.push(fail(id, description, [`${(e as Error).message} (ERR_ISSUER_CHAIN)`], 'the identity service signs with an issuer the bundle does not anchor'));
    }
  }
  return out;
}
