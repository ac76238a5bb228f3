/** Where the proxy's workload certificate comes from: Certify (the default) or files. */
export interface IdentitySource {
  /** Resolves when the first certificate is installed in the TLS state. */
  readonly ready: Promise<void>;
  /** The last reason a certificate could not be (re)loaded, or null. */
  readonly lastFailure: string | null;
  start(): void;
  stop(): void;
  /** Re-obtain the certificate now (e.g. after the trust anchors changed). */
  refreshNow(): void;
  /**
   * Re-obtain the certificate at a random moment within `withinMs` (0: now), unless an
   * attempt is already due sooner; `cause` is what the re-issue is counted under.
   */
  reissue(cause: ReissueCause, withinMs?: number): void;
  /** The trust anchors changed: reconnect what was verified against the old ones. */
  anchorsChanged(): void;
}

/**
 * Why a certificate is re-issued (`lanyard_proxy_identity_reissues_total{cause}`):
 * - `renewal`: the scheduled refresh at 70% of the leaf's remaining life;
 * - `issuer-changed`: the identity service signs with another issuer than the leaf's;
 * - `issuer-check`: the periodic check when the service has no issuer status stream;
 * - `leaf-untrusted`: the trust bundle no longer verifies the leaf in use;
 * - `files-changed`: static mode, the certificate files were checked again.
 */
export type ReissueCause = 'renewal' | 'issuer-changed' | 'issuer-check' | 'leaf-untrusted' | 'files-changed';
