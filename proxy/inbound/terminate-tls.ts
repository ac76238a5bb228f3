/**
 * Inbound TLS termination for the local identity, under the handshake timeout: TLS 1.3, a
 * client certificate optional at the TLS layer but, when present, verified to the anchors.
 * Resolves with the TLS socket and the verified peer names, or with why it failed (the
 * socket is then destroyed).
 */
import { X509Certificate } from 'node:crypto';
import type { Socket } from 'node:net';
import { TLSSocket, type DetailedPeerCertificate, type SecureContext } from 'node:tls';
import { TrustBundle } from '../../src/pki/trust-bundle.js';
import { MUX_ALPN } from '../mux/mux-protocol.js';
import { parseSubjectAltName } from '../tls/peer-identity.js';
import type { TlsMaterial } from '../tls/tls-state.js';

export interface Terminated {
  tls: TLSSocket;
  /** The client certificate's DNS identity and SPIFFE ID; both null without a certificate. */
  identity: string | null;
  spiffeId: string | null;
  /** The client certificate's NotAfter, or null without one. */
  notAfter: Date | null;
  /** Seconds the handshake took, and whether it resumed a session. */
  seconds: number;
  resumed: boolean;
}

export interface TerminateFailure {
  closeReason: string;
  reason: string;
}

export interface TerminateOptions {
  context: SecureContext;
  material: TlsMaterial;
  /** The ClientHello offered `lanyard.mux.v1`. */
  offersMux: boolean;
  timeoutMs: number;
}

export function terminateTls(socket: Socket, o: TerminateOptions): Promise<Terminated | TerminateFailure> {
  const started = performance.now();
  const tls = new TLSSocket(socket, {
    isServer: true,
    secureContext: o.context,
    requestCert: true,
    rejectUnauthorized: false, // a client certificate is optional; one that is present is checked below
    // Select the mux transport only when the ClientHello offered it: Node refuses a handshake
    // whose ALPN lists do not overlap, and other clients (openssl, curl) must still connect.
    ALPNProtocols: o.offersMux ? [MUX_ALPN] : undefined,
  });
  return new Promise((resolve) => {
    const fail = (closeReason: string, reason: string) => {
      clearTimeout(timer);
      tls.destroy();
      socket.destroy();
      resolve({ closeReason, reason });
    };
    const timer = setTimeout(() => fail('handshake-timeout', 'TLS handshake did not complete in time'), o.timeoutMs);
    tls.once('error', (e: NodeJS.ErrnoException) => fail(`tls-error:${e.code ?? 'unknown'}`, `TLS handshake failed: ${e.code ?? e.message}`));
    tls.once('secure', () => {
      clearTimeout(timer);
      tls.removeAllListeners('error');
      tls.on('error', () => undefined);
      const seconds = (performance.now() - started) / 1000;
      const cert = tls.getPeerCertificate();
      if (!cert || Object.keys(cert).length === 0) return resolve({ tls, identity: null, spiffeId: null, notAfter: null, seconds, resumed: tls.isSessionReused() });
      const verifyError = clientVerifyError(tls, o.material);
      if (verifyError) return fail('client-cert-rejected', `client certificate rejected: ${verifyError}`);
      const names = parseSubjectAltName(cert.subjectaltname);
      resolve({ tls, identity: names.dns[0] ?? null, spiffeId: names.spiffe, notAfter: new Date(Date.parse(cert.valid_to)), seconds, resumed: tls.isSessionReused() });
    });
  });
}

/**
 * OpenSSL verified the client's chain against the anchors during the handshake and kept
 * the result; only a TLSSocket owned by a tls.Server copies it into `authorized`, so read
 * it where tls.Server does (`_handle.verifyError()`). If that internal ever disappears,
 * verify the presented chain with public APIs instead.
 */
function clientVerifyError(tls: TLSSocket, material: TlsMaterial): string | null {
  const handle = (tls as unknown as { _handle?: { verifyError?: () => (Error & { code?: string }) | null } })._handle;
  if (typeof handle?.verifyError === 'function') {
    const err = handle.verifyError();
    return err ? err.code ?? err.message : null;
  }
  try {
    const chain: X509Certificate[] = [];
    for (let c: DetailedPeerCertificate | undefined = tls.getPeerCertificate(true); c?.raw && chain.length < 8; c = c.issuerCertificate === c ? undefined : c.issuerCertificate) {
      chain.push(new X509Certificate(c.raw));
    }
    TrustBundle.fromPem(material.anchorsPem).verify(chain.filter((c, i) => i === 0 || !c.ca || !c.checkIssued(c)), new Date());
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}
