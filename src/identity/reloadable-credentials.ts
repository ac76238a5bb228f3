/**
 * grpc-js server credentials whose certificate can be replaced while the server runs.
 * grpc-js calls `setSecureContext` on its HTTP/2 servers when the options change, so new
 * connections get the new certificate and established ones are left alone. Until the first
 * certificate is set, the server drops incoming connections.
 */
import { ServerCredentials } from '@grpc/grpc-js';
import type { SecureContextOptions } from 'node:tls';

export class ReloadableServerCredentials extends ServerCredentials {
  constructor() {
    super({ minVersion: 'TLSv1.2', requestCert: false, rejectUnauthorized: false });
  }

  update(options: SecureContextOptions): void {
    this.updateSecureContextOptions(options);
  }

  _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}
