/**
 * grpc-js server credentials whose certificate can be replaced while the server runs.
 * grpc-js calls `setSecureContext` on its HTTP/2 servers when the options change, so new
 * connections get the new certificate and established ones are left alone. Until the first
 * certificate is set, the server drops incoming connections.
 *
 * The constructor options go to Node's TLS server as they are: `handshakeTimeout` closes a
 * connection whose TLS handshake has not finished in time (Node's default is 2 minutes; an
 * unauthenticated peer should not hold a socket that long).
 */
import { ServerCredentials } from '@grpc/grpc-js';
import type { SecureContextOptions } from 'node:tls';

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export class ReloadableServerCredentials extends ServerCredentials {
  constructor(opts: { handshakeTimeoutMs?: number } = {}) {
    super({ minVersion: 'TLSv1.2', requestCert: false, rejectUnauthorized: false, handshakeTimeout: opts.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS });
  }

  update(options: SecureContextOptions): void {
    this.updateSecureContextOptions(options);
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}
