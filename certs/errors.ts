/**
 * Errors of the operator tooling. They are the operator's mistakes, not bugs: the CLI prints
 * the message on one line and exits 1, so every message names the option or file and says
 * what was expected. `code` is stable for tests and scripts.
 */
export type CertsErrorCode =
  /** An option value or a combination of options is not acceptable. */
  | 'ERR_CERTS_OPTION'
  /** A file could not be read, or does not hold what the option needs. */
  | 'ERR_CERTS_INPUT'
  /** The signing CA is not a CA, is expired, cannot sign CAs, or its key does not match. */
  | 'ERR_CERTS_CA_INVALID'
  /** A trust bundle change was refused (non-CA, unknown fingerprint, last anchor). */
  | 'ERR_CERTS_BUNDLE'
  /** The development PKI directory is in a state that cannot be completed safely. */
  | 'ERR_CERTS_DEV_PKI';

export class CertsError extends Error {
  constructor(
    readonly code: CertsErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CertsError';
  }
}
