/**
 * What the identity service shows from outside: the chain it serves Certify with (a TLS
 * handshake, nothing sent) and its admin `/ready` with the `Date` header for clock skew.
 * The one I/O of the identity-service checks; it never throws, it records what failed.
 */
import { X509Certificate } from 'node:crypto';
import { connect, type PeerCertificate } from 'node:tls';
import type { ClockSample } from './clock-skew.js';
import { adminGet } from './admin-get.js';

export interface TlsObservation {
  address: string;
  /** Why the handshake did not complete; null when it did. */
  error: string | null;
  /** Leaf first, as served. */
  chain: X509Certificate[];
}

export interface AdminObservation {
  address: string;
  error: string | null;
  ready: boolean | null;
  readyReason: string | null;
  clock: ClockSample | null;
}

/**
 * Completes a TLS handshake with `address` offering SNI `serverName` and `alpn` (h2 for gRPC,
 * http/1.1 for the webhook, as the API server calls it), and records the chain. Verification is left to the checks, so a wrong chain is reported with
 * what it holds instead of a bare handshake error.
 */
export function probeTls(address: string, serverName: string, timeoutMs = 5000, alpn: string[] = ['h2']): Promise<TlsObservation> {
  const { host, port } = splitAddress(address);
  return new Promise((resolve) => {
    let done = false;
    const finish = (o: Omit<TlsObservation, 'address'>): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ address, ...o });
    };
    const socket = connect({ host, port, servername: serverName, rejectUnauthorized: false, ALPNProtocols: alpn });
    const timer = setTimeout(() => finish({ error: `no TLS handshake within ${timeoutMs} ms`, chain: [] }), timeoutMs);
    socket.once('secureConnect', () => finish({ error: null, chain: chainOf(socket.getPeerCertificate(true)) }));
    socket.once('error', (e: NodeJS.ErrnoException) => finish({ error: e.code === 'ECONNREFUSED' ? 'connection refused' : (e.code ?? e.message), chain: [] }));
  });
}

function chainOf(leaf: PeerCertificate | undefined): X509Certificate[] {
  const out: X509Certificate[] = [];
  let c = leaf as (PeerCertificate & { issuerCertificate?: PeerCertificate }) | undefined;
  while (c?.raw && out.length < 10) {
    out.push(new X509Certificate(c.raw));
    const next = c.issuerCertificate;
    if (!next || next === c || next.raw?.equals(c.raw)) break;
    c = next;
  }
  return out;
}

/** GET /ready on an admin listener, with the clock sample of the exchange. */
export async function readAdminReady(address: string, timeoutMs = 5000, clock: () => number = Date.now): Promise<AdminObservation> {
  const out: AdminObservation = { address, error: null, ready: null, readyReason: null, clock: null };
  try {
    const sentAt = clock();
    const res = await adminGet(address, '/ready', timeoutMs);
    const receivedAt = clock();
    out.ready = res.status === 200;
    out.readyReason = out.ready ? null : res.body.trim().replace(/^not ready: /, '');
    out.clock = { sentAt, receivedAt, date: res.date };
  } catch (e) {
    out.error = (e as Error).message;
  }
  return out;
}

/** `host:port` or `[v6]:port`, as src/util/address.ts writes them. */
export function splitAddress(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  if (!m) throw new Error(`not a host:port address: ${address}`);
  return { host: m[1], port: Number(m[2]) };
}
