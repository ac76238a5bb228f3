/**
 * Errors of the PKI layer. `code` is stable and is what callers branch on (the identity
 * service maps it to a gRPC status); `message` names the field and what was expected.
 */
export type PkiErrorCode =
  | 'ERR_CSR_MALFORMED'
  | 'ERR_CSR_SIGNATURE'
  | 'ERR_CSR_KEY_TYPE'
  | 'ERR_CSR_SAN_MISMATCH'
  | 'ERR_CSR_FORBIDDEN_SAN'
  | 'ERR_CSR_COMMON_NAME'
  | 'ERR_ISSUER_INVALID'
  | 'ERR_CHAIN_INVALID';

export class PkiError extends Error {
  constructor(
    readonly code: PkiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PkiError';
  }
}
