/**
 * The identity service's domain errors and their one mapping to gRPC status codes.
 *
 * Linkerd answers a bad token with FAILED_PRECONDITION/INVALID_ARGUMENT; Lanyard answers
 * UNAUTHENTICATED, so a client can tell "fix your request" from "fix your credentials".
 * The README's "Certify errors" table lists every code below.
 */
import { status } from '@grpc/grpc-js';
import { PkiError, type PkiErrorCode } from '../pki/errors.js';

export type IdentityErrorCode =
  | 'ERR_REQUEST_MALFORMED'
  | 'ERR_IDENTITY_MALFORMED'
  | 'ERR_ISSUER_UNAVAILABLE'
  | 'ERR_TOKEN_MALFORMED'
  | 'ERR_TOKEN_EXPIRED'
  | 'ERR_TOKEN_NOT_YET_VALID'
  | 'ERR_TOKEN_AUDIENCE'
  | 'ERR_TOKEN_ISSUER'
  | 'ERR_TOKEN_SIGNATURE'
  | 'ERR_TOKEN_INVALID'
  | 'ERR_TOKEN_NOT_SERVICE_ACCOUNT'
  | 'ERR_VALIDATOR_UNAVAILABLE'
  | 'ERR_IDENTITY_MISMATCH'
  | 'ERR_INTERNAL';

export class IdentityError extends Error {
  constructor(
    readonly code: IdentityErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'IdentityError';
  }
}

export type CertifyErrorCode = IdentityErrorCode | PkiErrorCode;

const GRPC_STATUS: Record<CertifyErrorCode, status> = {
  ERR_REQUEST_MALFORMED: status.INVALID_ARGUMENT,
  ERR_IDENTITY_MALFORMED: status.INVALID_ARGUMENT,
  ERR_CSR_MALFORMED: status.INVALID_ARGUMENT,
  ERR_CSR_SIGNATURE: status.INVALID_ARGUMENT,
  ERR_CSR_KEY_TYPE: status.INVALID_ARGUMENT,
  ERR_CSR_SAN_MISMATCH: status.INVALID_ARGUMENT,
  ERR_CSR_FORBIDDEN_SAN: status.INVALID_ARGUMENT,
  ERR_CSR_COMMON_NAME: status.INVALID_ARGUMENT,
  ERR_TOKEN_MALFORMED: status.UNAUTHENTICATED,
  ERR_TOKEN_EXPIRED: status.UNAUTHENTICATED,
  ERR_TOKEN_NOT_YET_VALID: status.UNAUTHENTICATED,
  ERR_TOKEN_AUDIENCE: status.UNAUTHENTICATED,
  ERR_TOKEN_ISSUER: status.UNAUTHENTICATED,
  ERR_TOKEN_SIGNATURE: status.UNAUTHENTICATED,
  ERR_TOKEN_INVALID: status.UNAUTHENTICATED,
  ERR_TOKEN_NOT_SERVICE_ACCOUNT: status.UNAUTHENTICATED,
  ERR_IDENTITY_MISMATCH: status.PERMISSION_DENIED,
  ERR_ISSUER_UNAVAILABLE: status.UNAVAILABLE,
  ERR_VALIDATOR_UNAVAILABLE: status.UNAVAILABLE,
  ERR_ISSUER_INVALID: status.UNAVAILABLE,
  ERR_CHAIN_INVALID: status.UNAVAILABLE,
  ERR_INTERNAL: status.INTERNAL,
};

/**
 * The longest message a refusal carries (grpc-message and the audit line). Each check
 * already cuts what it echoes; this bound holds even if one forgets.
 */
export const MAX_MESSAGE_CHARS = 1024;

/** A coded failure, whichever layer raised it; anything uncoded becomes ERR_INTERNAL. */
export function classify(err: unknown): { code: CertifyErrorCode; grpc: status; message: string } {
  if (err instanceof IdentityError || err instanceof PkiError) {
    const message = err.message.length > MAX_MESSAGE_CHARS ? `${err.message.slice(0, MAX_MESSAGE_CHARS)}…` : err.message;
    return { code: err.code, grpc: GRPC_STATUS[err.code], message };
  }
  return { code: 'ERR_INTERNAL', grpc: status.INTERNAL, message: 'internal error' };
}
