/**
 * The Certify decision, as a straight line of checks:
 *   request well-formed → a valid issuer is loaded → token verified → the requested
 *   identity equals the token's → CSR valid → sign.
 * Each failure is a coded error (errors.ts maps codes to gRPC status in one place).
 * Transport, audit and metrics live in identity-server.ts.
 */
import { parseCsr, verifyCsr, type CsrSignatureVerifier } from '../pki/csr.js';
import type { EcPublicKey } from '../pki/ec-key.js';
import type { TrustDomain, ServiceAccountRef } from '../pki/names.js';
import { leafValidity } from '../pki/validity.js';
import { checkRequest, type CertifyRequest } from './check-request.js';
import { IdentityError } from './errors.js';
import { checkCsrNamesAllowing, ExtraDnsNames } from './extra-dns-names.js';
import type { IssuerStore } from './issuer-store.js';
import type { TokenValidator } from './token-validator.js';

export interface CertificateAuthorityConfig {
  trustDomain: TrustDomain;
  issuers: Pick<IssuerStore, 'current' | 'unavailableReason'>;
  validator: TokenValidator;
  /** Leaf lifetime. Default 24h. */
  lifetimeMs?: number;
  /** NotBefore backdating. Default 20s. */
  skewMs?: number;
  /**
   * Fast path for CSR self-signatures (the native addon's ecdsaVerify, wired by src/cli).
   * Default: node:crypto (WebCrypto raw-point import + crypto.verify). Same checks, same codes.
   */
  csrVerifier?: CsrSignatureVerifier;
  /** Extra DNS names control-plane identities may carry (extra-dns-names.ts). Default none. */
  extraDnsNames?: ExtraDnsNames;
  clock?: () => number;
}

export interface Certified {
  leaf: Buffer;
  chain: Buffer[];
  notAfter: Date;
  serial: string;
}

/** What a decision was about, for the audit line, filled in as the checks progress. */
export interface CertifyContext {
  identity?: string;
  namespace?: string;
  serviceAccount?: string;
}

export class CertificateAuthority {
  constructor(private readonly cfg: CertificateAuthorityConfig) {}

  async certify(req: CertifyRequest, ctx: CertifyContext = {}): Promise<Certified> {
    const checked = checkRequest(req, this.cfg.trustDomain);
    ctx.identity = checked.identity;
    ctx.namespace = checked.requested.namespace;
    ctx.serviceAccount = checked.requested.serviceAccount;

    const issuer = this.cfg.issuers.current();
    if (!issuer) throw new IdentityError('ERR_ISSUER_UNAVAILABLE', this.cfg.issuers.unavailableReason());

    const proven = await this.cfg.validator.validate(checked.token);
    const provenIdentity = this.cfg.trustDomain.identity(proven);
    if (provenIdentity !== checked.identity) {
      throw new IdentityError(
        'ERR_IDENTITY_MISMATCH',
        `identity: requested ${checked.identity} but the token is for service account ${proven.namespace}/${proven.serviceAccount} (${provenIdentity})`,
      );
    }

    const csr = parseCsr(checked.csr);
    const key = await verifyCsr(csr, this.cfg.csrVerifier);
    // Extra names come from the operator's allow-list, never from the request's bytes.
    const extraDnsNames = checkCsrNamesAllowing(csr, checked.identity, (this.cfg.extraDnsNames ?? ExtraDnsNames.none).allowedFor(provenIdentity));

    // Everything in the leaf is rebuilt from parsed values: the key from its curve and
    // point, the names from the token's service account. No request bytes are copied.
    const window = leafValidity(this.now(), this.cfg.lifetimeMs ?? 86_400_000, this.cfg.skewMs ?? 20_000, issuer.notAfter);
    const { der: leaf, serial } = await issuer.signer.sign({
      key,
      dnsName: provenIdentity,
      extraDnsNames,
      spiffeId: this.cfg.trustDomain.spiffeId(proven),
      ...window,
    });
    return { leaf, chain: issuer.chain, notAfter: window.notAfter, serial };
  }

  /**
   * Issues a certificate for a key this process holds (the identity service's own serving
   * certificate), skipping token and CSR checks that only make sense for remote callers.
   */
  async issueLocal(ref: ServiceAccountRef, key: EcPublicKey): Promise<Certified> {
    const issuer = this.cfg.issuers.current();
    if (!issuer) throw new IdentityError('ERR_ISSUER_UNAVAILABLE', this.cfg.issuers.unavailableReason());
    const window = leafValidity(this.now(), this.cfg.lifetimeMs ?? 86_400_000, this.cfg.skewMs ?? 20_000, issuer.notAfter);
    const { der: leaf, serial } = await issuer.signer.sign({
      key,
      dnsName: this.cfg.trustDomain.identity(ref),
      spiffeId: this.cfg.trustDomain.spiffeId(ref),
      ...window,
    });
    return { leaf, chain: issuer.chain, notAfter: window.notAfter, serial };
  }

  private now(): number {
    return (this.cfg.clock ?? Date.now)();
  }
}
