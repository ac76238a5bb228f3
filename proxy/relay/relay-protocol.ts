/**
 * Lanyard's relay transport between proxies: a mutual-TLS connection, negotiated with ALPN
 * `lanyard.relay.v1`, whose bytes after one TLS message are carried by the native relay
 * (proxy/native/src/relay.c) in its own AEAD records, with keys from the TLS session's
 * exporter (RFC 8446 §7.5), one per direction. Like the mux transport, one connection carries
 * one application connection after another (pooled), so a new application connection costs
 * a record, not a handshake; unlike it, the bytes never pass through Node's streams.
 *
 * The hand-off: the server, once the handshake is done and the peer checked, stops its Node
 * TLS from reading and sends READY through TLS; the client reads READY (after any session
 * tickets) and stops its Node TLS from reading. From then on only the relay reads or writes
 * the socket, and the client's first record is the relay's OPEN, so neither Node TLS can
 * have buffered a relay record.
 */
import { constants as osConstants } from 'node:os';
import type { TLSSocket } from 'node:tls';
import { RelayClosed, RelayEnd } from '../native/index.js';

export const RELAY_ALPN = 'lanyard.relay.v1';

/** The one TLS message of the server, after which the relay owns the connection. */
export const READY = Buffer.from([1]);

const EXPORTER_LABEL = 'EXPORTER-lanyard-relay-v1';

/** The two directions' keys, from the TLS session's exporter. */
export function relayKeys(tls: TLSSocket): { clientToServer: Buffer; serverToClient: Buffer } {
  const k = tls.exportKeyingMaterial(64, EXPORTER_LABEL, Buffer.alloc(0));
  return { clientToServer: k.subarray(0, 32), serverToClient: k.subarray(32) };
}

/** A finished stream's close reason in the audit, from the relay's RelayEnd reason. */
export function endReason(reason: number, detail: number): string {
  switch (reason) {
    case RelayEnd.DONE:
      return 'eof';
    case RelayEnd.APP_RESET:
      return 'app-reset';
    case RelayEnd.PEER_CLOSED:
      return 'peer-closed';
    case RelayEnd.BAD_RECORD:
      return 'relay:bad-record';
    case RelayEnd.IDLE:
      return 'idle-timeout';
    case RelayEnd.KEEPALIVE:
      return 'keepalive-timeout';
    case RelayEnd.CLOSED:
      return 'closed';
    case RelayEnd.NO_RESOURCES:
      return `relay:no-resources:${errnoName(detail)}`;
    default:
      return `relay:${reason}`;
  }
}

/** A connection's close reason, from the relay's RelayClosed reason. */
export function closedReason(reason: number): string {
  switch (reason) {
    case RelayClosed.IDLE:
      return 'idle';
    case RelayClosed.PEER_CLOSED:
      return 'peer-left';
    case RelayClosed.BAD_RECORD:
      return 'relay:bad-record';
    case RelayClosed.KEEPALIVE:
      return 'keepalive-timeout';
    case RelayClosed.CLOSED_BY_CALLER:
      return 'closed';
    case RelayClosed.STREAM_FAILED:
      return 'stream-failed';
    default:
      return 'relay:no-resources';
  }
}

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));

/** ECONNREFUSED for 111: the relay reports errno numbers. */
export function errnoName(n: number): string {
  return ERRNO_NAMES.get(n) ?? `errno ${n}`;
}
