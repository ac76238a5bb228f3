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
}
