/**
 * Signs workload leaf certificates from one issuer, fast.
 *
 * Everything that depends only on the issuer (its Name, the signature algorithm, the
 * authority key identifier and the fixed extensions) is encoded once when the signer is
 * built; per leaf only the serial, validity, key, SKI and SANs are encoded, then the TBS
 * is signed with OpenSSL through node:crypto. See DESIGN.md §2 step 5 for the profile.
 */
import { randomBytes, sign, type KeyObject } from 'node:crypto';
import * as der from './der.js';
import { PkiError } from './errors.js';
import { CURVES, OID } from './oids.js';
import { parseCertificate, sha1, type CertificateFields } from './certificate.js';
import { assertEcPublicKey, encodeEcSpki, type EcPublicKey } from './ec-key.js';
import { isDnsName } from './names.js';

export interface LeafRequest {
  /**
   * The workload's key as parsed values (curve and uncompressed point). The leaf's
   * SubjectPublicKeyInfo is encoded from them: no bytes a caller sent are copied into it.
   */
  key: EcPublicKey;
  dnsName: string;
  /**
   * More DNS names after `dnsName`, for a control-plane serving certificate whose name the
   * operator allowed (e.g. the injector's `lanyard-injector.lanyard.svc`). Default none.
   */
  extraDnsNames?: readonly string[];
  spiffeId: string;
  notBefore: Date;
  notAfter: Date;
}

// The SPIFFE ID is built by TrustDomain from DNS labels; anything else is a bug upstream.
const SPIFFE_ID = /^spiffe:\/\/[a-z0-9.-]+(\/[a-z0-9._-]+)+$/;

function extension(oid: string, critical: boolean, value: Uint8Array): Buffer {
  return critical
    ? der.seq(der.encodeOid(oid), der.TRUE, der.octetString(value))
    : der.seq(der.encodeOid(oid), der.octetString(value));
}

const VERSION_3 = der.explicit(0, der.smallInteger(2));
// KeyUsage: digitalSignature only (bit 0; 7 unused bits).
const KEY_USAGE = extension(OID.keyUsage, true, Buffer.from([0x03, 0x02, 0x07, 0x80]));
const EXT_KEY_USAGE = extension(OID.extKeyUsage, false, der.seq(der.encodeOid(OID.serverAuth), der.encodeOid(OID.clientAuth)));
// BasicConstraints with cA omitted (DEFAULT FALSE), critical so no verifier can treat the leaf as a CA.
const BASIC_CONSTRAINTS = extension(OID.basicConstraints, true, der.seq());
const EMPTY_NAME = der.seq();
const SKI_OID = der.encodeOid(OID.subjectKeyIdentifier);
const SAN_OID = der.encodeOid(OID.subjectAltName);

export interface SignedLeaf {
  der: Buffer;
  /** Upper-case hex without leading zero bytes, as X509Certificate.serialNumber prints it. */
  serial: string;
}

export class LeafSigner {
  readonly issuer: CertificateFields;
  private readonly hash: 'sha256' | 'sha384';
  private readonly sigAlg: Buffer;
  private readonly fixedExtensions: Buffer;

  /**
   * @param issuerCert the issuer's certificate (DER); its key must be ECDSA P-256 or P-384
   * @param issuerKey the issuer's private key
   */
  constructor(
    issuerCert: Buffer,
    private readonly issuerKey: KeyObject,
  ) {
    this.issuer = parseCertificate(issuerCert);
    const curve = issuerKey.asymmetricKeyType === 'ec' ? issuerKey.asymmetricKeyDetails?.namedCurve : undefined;
    const profile = curve === 'prime256v1' ? CURVES[OID.prime256v1] : curve === 'secp384r1' ? CURVES[OID.secp384r1] : undefined;
    if (!profile) {
      throw new PkiError('ERR_ISSUER_INVALID', `issuer key must be ECDSA P-256 or P-384, found ${issuerKey.asymmetricKeyType} ${curve ?? ''}`.trim());
    }
    this.hash = profile.hash;
    this.sigAlg = der.seq(der.encodeOid(profile.sigOid));
    const aki = extension(OID.authorityKeyIdentifier, false, der.seq(der.tlv(0x80, this.issuer.subjectKeyId)));
    this.fixedExtensions = Buffer.concat([KEY_USAGE, EXT_KEY_USAGE, BASIC_CONSTRAINTS, aki]);
  }

  get notAfter(): Date {
    return this.issuer.notAfter;
  }

  /** Returns the DER leaf and its serial. The caller has already clamped the validity window. */
  async sign(req: LeafRequest): Promise<SignedLeaf> {
    const serial = randomSerial();
    const tbs = this.encodeTbs(req, serial);
    const signature = sign(this.hash, tbs, { key: this.issuerKey, dsaEncoding: 'der' });
    return { der: der.seq(tbs, this.sigAlg, der.bitString(signature)), serial: serialHex(serial) };
  }

  /** The TBSCertificate for `req` with `serial`: deterministic, so it has golden-vector tests. */
  encodeTbs(req: LeafRequest, serial: Buffer): Buffer {
    assertEcPublicKey(req.key);
    if (!isDnsName(req.dnsName) || !(req.extraDnsNames ?? []).every(isDnsName) || !SPIFFE_ID.test(req.spiffeId) || req.spiffeId.length > 2048) {
      throw new Error('leaf names must be a DNS name and a spiffe:// ID of DNS labels'); // a bug, not a refusal
    }
    // SKI: RFC 5280 4.2.1.2 method 1, the SHA-1 of the subjectPublicKey bits.
    const ski = der.seq(SKI_OID, der.octetString(der.octetString(sha1(req.key.point))));
    const san = der.seq(
      SAN_OID,
      der.TRUE, // critical: the subject is empty (RFC 5280 4.2.1.6, SPIFFE X509-SVID §4)
      der.octetString(
        der.seq(
          der.tlv(0x82, Buffer.from(req.dnsName, 'ascii')),
          ...(req.extraDnsNames ?? []).map((n) => der.tlv(0x82, Buffer.from(n, 'ascii'))),
          der.tlv(0x86, Buffer.from(req.spiffeId, 'ascii')),
        ),
      ),
    );
    return der.seq(
      VERSION_3,
      der.unsignedInteger(serial),
      this.sigAlg,
      this.issuer.subjectName,
      der.seq(der.time(req.notBefore), der.time(req.notAfter)),
      EMPTY_NAME,
      encodeEcSpki(req.key),
      der.explicit(3, der.seq(this.fixedExtensions, ski, san)),
    );
  }
}

/** 128 random bits, never zero (RFC 5280 requires a positive serial). */
function randomSerial(): Buffer {
  for (;;) {
    const b = randomBytes(16);
    if (b.some((x) => x !== 0)) return b;
  }
}

function serialHex(b: Buffer): string {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  return b.subarray(i).toString('hex').toUpperCase();
}
