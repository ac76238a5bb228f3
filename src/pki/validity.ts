/** Validity windows for issued leaves. */

export interface ValidityWindow {
  notBefore: Date;
  notAfter: Date;
}

/**
 * NotBefore is backdated by `skewMs` so a peer whose clock is a little behind ours still
 * accepts a certificate we issued a moment ago. NotAfter is `now + lifetimeMs`, clamped to
 * the issuer's own NotAfter: a leaf that outlives its issuer would fail verification
 * anyway, and an honest `valid_until` lets the proxy schedule its refresh correctly.
 * Both are truncated to whole seconds, which is all X.509 time can carry.
 */
export function leafValidity(now: number, lifetimeMs: number, skewMs: number, issuerNotAfter: Date): ValidityWindow {
  const notBefore = Math.floor((now - skewMs) / 1000) * 1000;
  const notAfter = Math.floor(Math.min(now + lifetimeMs, issuerNotAfter.getTime()) / 1000) * 1000;
  return { notBefore: new Date(notBefore), notAfter: new Date(notAfter) };
}
