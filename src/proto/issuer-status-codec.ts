/**
 * Protobuf encoding of the issuer status stream (proto/lanyard/identity/v1/issuer.proto), by
 * hand, for the sidecar; checked against protobufjs in the unit tests.
 *
 *   WatchRequest { Timestamp client_time = 1; string identity = 2; }
 *   Status       { string issuer_fingerprint_sha256 = 1; string bundle_fingerprint = 2;
 *                  Timestamp server_time = 3; Timestamp issuer_not_after = 4;
 *                  bool ready = 5; string reason = 6; }
 */
import type { Timestamp } from './messages.js';
import { decodeTimestamp, encodeTimestamp, fields, lengthDelimited, LEN, varint, VARINT } from './wire.js';

export const ISSUER_WATCH_PATH = '/lanyard.identity.v1.IssuerStatus/Watch';

export interface WatchRequestMessage {
  client_time: Timestamp | null;
  identity: string;
}

export interface IssuerStatusMessage {
  issuer_fingerprint_sha256: string;
  bundle_fingerprint: string;
  server_time: Timestamp | null;
  issuer_not_after: Timestamp | null;
  ready: boolean;
  reason: string;
}

export function encodeWatchRequest(m: WatchRequestMessage): Buffer {
  const parts: Buffer[] = [];
  if (m.client_time) parts.push(...lengthDelimited(1, encodeTimestamp(m.client_time)));
  if (m.identity) parts.push(...lengthDelimited(2, Buffer.from(m.identity, 'utf8')));
  return Buffer.concat(parts);
}

export function decodeIssuerStatus(buf: Buffer): IssuerStatusMessage {
  const out: IssuerStatusMessage = { issuer_fingerprint_sha256: '', bundle_fingerprint: '', server_time: null, issuer_not_after: null, ready: false, reason: '' };
  for (const f of fields(buf)) {
    if (f.wire === VARINT && f.field === 5) out.ready = (f.value as number) !== 0;
    if (f.wire !== LEN) continue;
    const v = f.value as Buffer;
    if (f.field === 1) out.issuer_fingerprint_sha256 = v.toString('utf8');
    else if (f.field === 2) out.bundle_fingerprint = v.toString('utf8');
    else if (f.field === 3) out.server_time = decodeTimestamp(v);
    else if (f.field === 4) out.issuer_not_after = decodeTimestamp(v);
    else if (f.field === 6) out.reason = v.toString('utf8');
  }
  return out;
}

/** Test helper and server-side symmetry: encodes a Status. */
export function encodeIssuerStatus(m: IssuerStatusMessage): Buffer {
  const parts: Buffer[] = [];
  if (m.issuer_fingerprint_sha256) parts.push(...lengthDelimited(1, Buffer.from(m.issuer_fingerprint_sha256, 'utf8')));
  if (m.bundle_fingerprint) parts.push(...lengthDelimited(2, Buffer.from(m.bundle_fingerprint, 'utf8')));
  if (m.server_time) parts.push(...lengthDelimited(3, encodeTimestamp(m.server_time)));
  if (m.issuer_not_after) parts.push(...lengthDelimited(4, encodeTimestamp(m.issuer_not_after)));
  if (m.ready) parts.push(Buffer.from([(5 << 3) | VARINT, ...varint(1)]));
  if (m.reason) parts.push(...lengthDelimited(6, Buffer.from(m.reason, 'utf8')));
  return Buffer.concat(parts);
}
