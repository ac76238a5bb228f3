/**
 * Protocol detection on the first bytes of an inbound connection. Pure: takes the bytes
 * read so far and says what they are, or that more are needed.
 *
 * A TLS ClientHello is one or more handshake records (type 22); we reassemble the
 * handshake message across records and read the server_name extension. Anything whose
 * first byte is not a TLS handshake record is plaintext.
 */

export type Detection =
  /**
   * `mux` is set when the client offers Lanyard's multiplexed transport (ALPN `lanyard.mux.v1`),
   * `relay` when it offers the relay transport (`lanyard.relay.v1`).
   */
  | { kind: 'tls'; sni: string | null; mux?: true; relay?: true }
  | { kind: 'plaintext' }
  | { kind: 'need-more' }
  /** Starts like TLS but is not a well-formed ClientHello. */
  | { kind: 'malformed'; reason: string };

/** ClientHellos larger than this are refused (post-quantum key shares are ~1.2 KiB). */
export const MAX_CLIENT_HELLO = 16 * 1024;

const HANDSHAKE = 22;
const CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
const MUX_ALPN = Buffer.from('lanyard.mux.v1');
const RELAY_ALPN = Buffer.from('lanyard.relay.v1');

export function detectProtocol(buf: Buffer): Detection {
  if (buf.length === 0) return { kind: 'need-more' };
  if (buf[0] !== HANDSHAKE) return { kind: 'plaintext' };
  if (buf.length < 3) return { kind: 'need-more' };
  // SSL 3.0 .. TLS 1.3 all use record version 3.x; anything else is not TLS we can read.
  if (buf[1] !== 3) return { kind: 'plaintext' };

  // Reassemble the handshake layer from consecutive handshake records.
  const chunks: Buffer[] = [];
  let have = 0;
  let need = -1;
  let pos = 0;
  while (need < 0 || have < need) {
    if (pos + 5 > buf.length) return { kind: 'need-more' };
    if (buf[pos] !== HANDSHAKE) return { kind: 'malformed', reason: 'ClientHello interrupted by a non-handshake record' };
    const len = buf.readUInt16BE(pos + 3);
    if (len === 0 || len > 16384 + 2048) return { kind: 'malformed', reason: `bad record length ${len}` };
    if (pos + 5 + len > buf.length) return { kind: 'need-more' };
    chunks.push(buf.subarray(pos + 5, pos + 5 + len));
    have += len;
    pos += 5 + len;
    if (need < 0 && have >= 4) {
      const hs = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
      if (hs[0] !== CLIENT_HELLO) return { kind: 'malformed', reason: `first handshake message is type ${hs[0]}, not ClientHello` };
      need = 4 + hs.readUIntBE(1, 3);
      if (need > MAX_CLIENT_HELLO) return { kind: 'malformed', reason: `ClientHello of ${need} bytes is too large` };
    }
  }
  const hello = Buffer.concat(chunks).subarray(4, need);
  return parseClientHello(hello);
}

function parseClientHello(b: Buffer): Detection {
  try {
    let p = 2 + 32; // legacy_version, random
    p += 1 + b[p]; // legacy_session_id
    p += 2 + b.readUInt16BE(p); // cipher_suites
    p += 1 + b[p]; // legacy_compression_methods
    if (p === b.length) return { kind: 'tls', sni: null }; // no extensions
    const extEnd = p + 2 + b.readUInt16BE(p);
    if (extEnd > b.length) return { kind: 'malformed', reason: 'extensions overrun the ClientHello' };
    p += 2;
    let sni: string | null = null;
    let offered = { mux: false, relay: false };
    while (p + 4 <= extEnd) {
      const type = b.readUInt16BE(p);
      const len = b.readUInt16BE(p + 2);
      const body = p + 4;
      if (body + len > extEnd) return { kind: 'malformed', reason: 'extension overruns the extension block' };
      if (type === EXT_SERVER_NAME) {
        const name = readServerName(b.subarray(body, body + len));
        if (name === undefined) return { kind: 'malformed', reason: 'malformed server_name extension' };
        sni = name;
      } else if (type === EXT_ALPN) {
        offered = lanyardProtocols(b.subarray(body, body + len));
      }
      p = body + len;
    }
    return { kind: 'tls', sni, ...(offered.mux && { mux: true }), ...(offered.relay && { relay: true }) };
  } catch {
    return { kind: 'malformed', reason: 'truncated ClientHello' };
  }
}

/** Which of Lanyard's transports an ALPN extension's protocol list offers. */
function lanyardProtocols(ext: Buffer): { mux: boolean; relay: boolean } {
  const offered = { mux: false, relay: false };
  if (ext.length < 2) return offered;
  const end = Math.min(ext.length, 2 + ext.readUInt16BE(0));
  for (let p = 2; p < end; p += 1 + ext[p]) {
    const len = ext[p];
    if (p + 1 + len > end) break;
    const name = ext.subarray(p + 1, p + 1 + len);
    if (name.equals(MUX_ALPN)) offered.mux = true;
    if (name.equals(RELAY_ALPN)) offered.relay = true;
  }
  return offered;
}

/**
 * The host_name in a server_name extension; null if it names none, undefined if the
 * lengths do not add up. Checked strictly: subarray() silently truncates, so a name whose
 * length overran the extension used to come back cut short (and could equal ours).
 */
function readServerName(ext: Buffer): string | null | undefined {
  if (ext.length < 2) return undefined;
  const listEnd = 2 + ext.readUInt16BE(0);
  if (listEnd > ext.length) return undefined;
  let p = 2;
  while (p + 3 <= listEnd) {
    const type = ext[p];
    const len = ext.readUInt16BE(p + 1);
    if (p + 3 + len > listEnd) return undefined;
    if (type === 0) return len === 0 ? undefined : ext.subarray(p + 3, p + 3 + len).toString('ascii');
    p += 3 + len;
  }
  return null;
}
