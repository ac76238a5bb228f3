/**
 * Lanyard's multiplexed transport between proxies: one mutual-TLS connection per
 * (upstream, identity), negotiated with ALPN `lanyard.mux.v1`, carrying HTTP/2, with each
 * application TCP connection as one CONNECT stream (RFC 9113 §8.5) whose `:authority`
 * names the target port. A new application connection costs one stream, not one TLS
 * handshake; half-close maps to END_STREAM, backpressure to HTTP/2 flow control, and a
 * refused or failed connection to a stream reset.
 *
 * A peer that does not select the ALPN (an older Lanyard, openssl s_client, any plain TLS
 * client) gets the classic transport: one TLS connection per application connection.
 */
import type { Settings } from 'node:http2';

export const MUX_ALPN = 'lanyard.mux.v1';

/**
 * Flow-control windows big enough for bulk transfers (a 64 KiB window caps a stream at one
 * window per round trip) but bounded: a stalled application can make its peer buffer at most
 * one stream window.
 */
export const MUX_SETTINGS: Settings = {
  initialWindowSize: 2 * 1024 * 1024,
  maxFrameSize: 256 * 1024,
  enablePush: false,
};

/** The connection-level window: shared by all streams of one session. */
export const MUX_SESSION_WINDOW = 64 * 1024 * 1024;

/** `CONNECT` authority for a target port: the host part is ignored by the peer. */
export const authorityFor = (port: number): string => `127.0.0.1:${port}`;

/** The port a CONNECT authority names, or null if it is not `host:port`. */
export function portOf(authority: string | undefined): number | null {
  const m = authority ? /:(\d{1,5})$/.exec(authority) : null;
  const port = m ? Number(m[1]) : NaN;
  return Number.isInteger(port) && port > 0 && port <= 65535 ? port : null;
}

/** What a peer proxy's answer to a stream means (mux: the HTTP/2 status; relay: its STATUS record), for the outbound audit. */
export const PEER_STATUS_REASONS: Record<number, string> = {
  403: "refused by the peer proxy's policy",
  502: 'the peer proxy could not reach its application',
  400: 'the peer proxy rejected the stream target',
  405: 'the peer proxy rejected the stream method',
  503: 'the peer proxy is at its connection limit',
};
