import type { ServiceAccountRef } from '../pki/names.js';

/**
 * Proves which service account a token belongs to.
 *
 * `validate` resolves to the service account, or rejects with an IdentityError:
 * - ERR_TOKEN_* when the token is not acceptable (the caller answers UNAUTHENTICATED);
 * - ERR_VALIDATOR_UNAVAILABLE when the answer could not be obtained (UNAVAILABLE):
 *   an unreachable or slow API server must never turn into a certificate or a denial.
 */
export interface TokenValidator {
  readonly kind: string;
  validate(token: string): Promise<ServiceAccountRef>;
  /** Start-up checks (RBAC, key material); rejects with a message an operator can act on. */
  start?(): Promise<void>;
  close?(): void;
}
