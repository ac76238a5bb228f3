/**
 * A CSR for several DNS names (the identity first), for the control-plane components that
 * need a serving name beside their identity (the injector's `lanyard-injector.<ns>.svc`).
 * Workloads use buildCsr (csr.ts), whose only SAN is the identity.
 */
import { sign, type KeyObject } from 'node:crypto';
import * as der from './der.js';
import { OID } from './oids.js';

export function buildCsrForNames(dnsNames: readonly string[], privateKey: KeyObject, publicKey: KeyObject): Buffer {
  if (!dnsNames.length) throw new Error('buildCsrForNames: at least one DNS name is required');
  const hash = privateKey.asymmetricKeyDetails?.namedCurve === 'secp384r1' ? 'sha384' : 'sha256';
  const sigOid = hash === 'sha384' ? OID.ecdsaWithSha384 : OID.ecdsaWithSha256;
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const names = der.seq(...dnsNames.map((n) => der.tlv(0x82, Buffer.from(n, 'ascii'))));
  const san = der.seq(der.encodeOid(OID.subjectAltName), der.octetString(names));
  const attr = der.seq(der.encodeOid(OID.extensionRequest), der.set(der.seq(san)));
  const info = der.seq(der.smallInteger(0), der.seq(), spki, der.tlv(0xa0, attr));
  const signature = sign(hash, info, { key: privateKey, dsaEncoding: 'der' });
  return der.seq(info, der.seq(der.encodeOid(sigOid)), der.bitString(signature));
}
