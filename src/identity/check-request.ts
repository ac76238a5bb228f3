/**
 * The first check of every Certify call: the request is well-formed. Pure; no I/O.
 */
import { IdentityError } from './errors.js';
import type { TrustDomain, ServiceAccountRef } from '../pki/names.js';
import { quote } from '../util/value-error.js';

/** The decoded request, as grpc-js hands it over. */
export interface CertifyRequest {
  identity?: string;
  token?: Uint8Array;
  certificate_signing_request?: Uint8Array;
}

export interface CheckedRequest {
  identity: string;
  /** The service account the identity names. */
  requested: ServiceAccountRef;
  token: string;
  csr: Buffer;
}

export function checkRequest(req: CertifyRequest, td: TrustDomain): CheckedRequest {
  const identity = req.identity ?? '';
  if (typeof identity !== 'string') throw new IdentityError('ERR_REQUEST_MALFORMED', 'identity: must be a string');
  if (!identity) throw new IdentityError('ERR_REQUEST_MALFORMED', 'identity: required');
  if (!req.token?.length) throw new IdentityError('ERR_REQUEST_MALFORMED', 'token: required');
  if (!req.certificate_signing_request?.length) {
    throw new IdentityError('ERR_REQUEST_MALFORMED', 'certificate_signing_request: required');
  }
  const requested = td.parse(identity);
  if (!requested) {
    throw new IdentityError(
      'ERR_IDENTITY_MALFORMED',
      `identity: ${quote(identity, 300)} is not a workload identity; expected <sa>.<ns>.serviceaccount.identity.${td.controlNamespace}.${td.domain}`,
    );
  }
  // grpc-js hands over Buffers already: view them rather than copy them on every call.
  const token = asBuffer(req.token).toString('utf8').trim();
  return { identity, requested, token, csr: asBuffer(req.certificate_signing_request) };
}

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength));
