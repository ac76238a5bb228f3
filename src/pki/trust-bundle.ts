/**
 * A set of trust anchors and chain verification against them.
 */
import { X509Certificate } from 'node:crypto';
import { PkiError } from './errors.js';
import { certificatesFromPem } from './pem.js';

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
    if (same) return { anchor: same, path: chain.slice(0, -1) };
    const anchor = this.anchors.find((a) => issuedBy(last, a));
    if (!anchor) throw new PkiError('ERR_CHAIN_INVALID', `${describe(last)} does not chain to any trust anchor`);
    checkTime(anchor, at);
    return { anchor, path: chain };
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
