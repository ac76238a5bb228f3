/**
 * A set of trust anchors and chain verification against them.
 */
import { X509Certificate } from 'node:crypto';
import { PkiError } from './errors.js';
import { certificatesFromPem } from './pem.js';
import { parseCertificate } from './certificate.js';

export interface ChainResult {
  /** The anchor the chain ends at. */
  anchor: X509Certificate;
  /** The certificates between the first one and the anchor (the anchor excluded). */
  path: X509Certificate[];
}

export class TrustBundle {
  readonly anchors: readonly X509Certificate[];

  constructor(anchors: X509Certificate[]) {
    if (anchors.length === 0) throw new PkiError('ERR_CHAIN_INVALID', 'trust bundle holds no certificates');
    for (const a of anchors) {
      if (!a.ca) throw new PkiError('ERR_CHAIN_INVALID', `trust anchor ${a.subject || a.fingerprint256} is not a CA certificate`);
    }
    this.anchors = anchors;
  }

  static fromPem(pem: string, what = 'trust bundle'): TrustBundle {
    return new TrustBundle(certificatesFromPem(pem, what).map((d) => new X509Certificate(d)));
  }

  toPem(): string {
    return this.anchors.map((a) => a.toString()).join('');
  }

  /**
   * Verifies that `chain[0]` is signed by `chain[1]`, and so on, and that the last
   * certificate is an anchor or is signed by one. Every certificate must be valid at `at`;
   * every issuer in the path must be a CA.
   */
  verify(chain: X509Certificate[], at: Date): ChainResult {
    if (chain.length === 0) throw new PkiError('ERR_CHAIN_INVALID', 'empty certificate chain');
    for (const c of chain) checkTime(c, at);
    for (let i = 0; i + 1 < chain.length; i++) {
      if (!chain[i + 1].ca) throw new PkiError('ERR_CHAIN_INVALID', `${describe(chain[i + 1])} signs another certificate but is not a CA`);
      if (!issuedBy(chain[i], chain[i + 1])) {
        throw new PkiError('ERR_CHAIN_INVALID', `${describe(chain[i])} is not signed by ${describe(chain[i + 1])}`);
      }
    }
    const last = chain[chain.length - 1];
    const same = this.anchors.find((a) => a.raw.equals(last.raw));
    const anchor = same ?? this.anchors.find((a) => issuedBy(last, a));
    if (!anchor) throw new PkiError('ERR_CHAIN_INVALID', `${describe(last)} does not chain to any trust anchor`);
    const path = same ? chain.slice(0, -1) : chain;
    checkTime(anchor, at);
    checkConstraints([...path, anchor]);
    return { anchor, path };
  }
}

/**
 * RFC 5280 6.1.4: a CA's pathLenConstraint bounds the CA certificates below it. (A signer
 * whose KeyUsage lacks keyCertSign is already refused: X509Certificate.ca is false for it.)
 */
function checkConstraints(chain: X509Certificate[]): void {
  const fields = chain.map((c) => parseCertificate(c.raw));
  for (let i = 1; i < chain.length; i++) {
    // CA certificates below this one; when verifying an issuer on its own, the issuer itself
    // counts, because the leaves it will sign sit below it.
    const casBelow = fields.slice(0, i).filter((f) => f.isCa).length;
    const limit = fields[i].pathLen;
    if (limit !== null && casBelow > limit) {
      throw new PkiError('ERR_CHAIN_INVALID', `${describe(chain[i])} has path length ${limit} but ${casBelow} CA certificates follow it`);
    }
  }
}

function issuedBy(child: X509Certificate, parent: X509Certificate): boolean {
  try {
    return child.checkIssued(parent) && child.verify(parent.publicKey);
  } catch {
    return false;
  }
}

function checkTime(c: X509Certificate, at: Date): void {
  if (Date.parse(c.validFrom) > at.getTime()) throw new PkiError('ERR_CHAIN_INVALID', `${describe(c)} is not valid before ${c.validFrom}`);
  if (Date.parse(c.validTo) < at.getTime()) throw new PkiError('ERR_CHAIN_INVALID', `${describe(c)} expired at ${c.validTo}`);
}

export function describe(c: X509Certificate): string {
  const name = c.subject ? c.subject.replace(/\n/g, ', ') : c.subjectAltName ?? 'certificate';
  return `"${name}" (serial ${c.serialNumber})`;
}
