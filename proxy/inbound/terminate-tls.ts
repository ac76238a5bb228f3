/**
 * Inbound TLS termination for the local identity, under the handshake timeout: TLS 1.3, a
 * client certificate optional at the TLS layer but, when present, verified to the anchors.
 * Resolves with the TLS socket and the verified peer names, or with why it failed (the
 * socket is then destroyed).
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { MUX_ALPN } from '../mux/mux-protocol.js';
import { RELAY_ALPN } from '../relay/relay-protocol.js';
import { tlsVerifyError } from '../node-internals.js';
import { provePeer } from '../tls/peer-identity.js';
import { NOTHING_PRESENTED, presentedFrom, type PresentedCertificate } from '../tls/presented-certificate.js';

export interface Terminated {
  tls: TLSSocket;
  /** The client certificate's DNS identity and SPIFFE ID; both null without a certificate. */
  identity: string | null;
  spiffeId: string | null;
  /** The client certificate's NotAfter, or null without one. */
  notAfter: Date | null;
  /** Its serial and issuer, for the audit. */
  presented: PresentedCertificate;
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
  /** The ClientHello offered `lanyard.mux.v1`. */
  offersMux: boolean;
  /** The ClientHello offered `lanyard.relay.v1` and this proxy serves it (preferred to mux). */
  offersRelay?: boolean;
  timeoutMs: number;
}

export function terminateTls(socket: Socket, o: TerminateOptions): Promise<Terminated | TerminateFailure> {
  const started = performance.now();
  const tls = new TLSSocket(socket, {
    isServer: true,
    secureContext: o.context,
    requestCert: true,
    rejectUnauthorized: false, // a client certificate is optional; one that is present is checked below
    // Select a Lanyard transport only when the ClientHello offered it: Node refuses a handshake
    // whose ALPN lists do not overlap, and other clients (openssl, curl) must still connect.
    // The server's order decides: the relay first.
    ALPNProtocols: lanyardAlpn(o),
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
      // Detailed: the issuer is named in the audit (once per handshake, not per stream).
      const cert = tls.getPeerCertificate(true);
      if (!cert || Object.keys(cert).length === 0) return resolve({ tls, identity: null, spiffeId: null, notAfter: null, presented: NOTHING_PRESENTED, seconds, resumed: tls.isSessionReused() });
      const verifyError = clientVerifyError(tls);
      if (verifyError) return fail('client-cert-rejected', `client certificate rejected: ${verifyError}`);
      const proof = provePeer(cert);
      if ('refusal' in proof) return fail('client-cert-rejected', `client certificate rejected: ${proof.refusal}`);
      resolve({ tls, ...proof, notAfter: new Date(Date.parse(cert.valid_to)), presented: presentedFrom(cert), seconds, resumed: tls.isSessionReused() });
    });
  });
}

function lanyardAlpn(o: TerminateOptions): string[] | undefined {
  const list = [...(o.offersRelay ? [RELAY_ALPN] : []), ...(o.offersMux ? [MUX_ALPN] : [])];
  return list.length ? list : undefined;
}

/** OpenSSL verified the client's chain against the anchors during the handshake; its verdict. */
function clientVerifyError(tls: TLSSocket): string | null {
  const err = tlsVerifyError(tls);
  return err ? err.code ?? err.message : null;
}
