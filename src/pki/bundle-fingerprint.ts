/**
 * The fingerprint of a trust bundle: what `lanyard inject` and the injector record on a pod
 * (annotation `lanyard.io/trust-bundle-sha256`) and what `lanyard check` compares with the
 * current bundle to find pods that were injected under another one.
 *
 * It is the SHA-256 of the sorted SHA-256s of the bundle's certificates (DER), so it depends
 * only on which anchors the bundle holds: not on their order, PEM line wrapping, comments or
 * duplicates. Lower-case hex, 64 characters, a valid annotation value.
 */
import { createHash } from 'node:crypto';
import { certificatesFromPem } from './pem.js';

export function bundleFingerprint(pem: string): string {
  const digests = [...new Set(certificatesFromPem(pem, 'trust bundle').map((d) => createHash('sha256').update(d).digest('hex')))].sort();
  return createHash('sha256').update(digests.join('\n')).digest('hex');
}
