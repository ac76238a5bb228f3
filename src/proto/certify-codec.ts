/**
 * Protobuf encoding of Certify's two messages, by hand. The proxy uses it so that it needs
 * neither protobufjs nor grpc-js at run time (together ~8 MB of a sidecar's memory); the
 * unit tests check it byte for byte against protobufjs loading proto/identity.proto.
 *
 *   CertifyRequest  { string identity = 1; bytes token = 2; bytes certificate_signing_request = 3; }
 *   CertifyResponse { bytes leaf_certificate = 1; repeated bytes intermediate_certificates = 2;
 *                     google.protobuf.Timestamp valid_until = 3; }
 *   Timestamp       { int64 seconds = 1; int32 nanos = 2; }
 */
import type { CertifyRequestMessage, CertifyResponseMessage } from './messages.js';
import { decodeTimestamp, encodeTimestamp, fields, lengthDelimited, LEN } from './wire.js';

export { ProtobufError } from './wire.js';

export function encodeCertifyRequest(m: CertifyRequestMessage): Buffer {
  const parts: Buffer[] = [];
  if (m.identity) parts.push(...lengthDelimited(1, Buffer.from(m.identity, 'utf8')));
  if (m.token?.length) parts.push(...lengthDelimited(2, m.token));
  if (m.certificate_signing_request?.length) parts.push(...lengthDelimited(3, m.certificate_signing_request));
  return Buffer.concat(parts);
}

export function decodeCertifyResponse(buf: Buffer): CertifyResponseMessage {
  const out: CertifyResponseMessage = { leaf_certificate: Buffer.alloc(0), intermediate_certificates: [], valid_until: null };
  for (const f of fields(buf)) {
    if (f.wire !== LEN) continue;
    const v = f.value as Buffer;
    if (f.field === 1) out.leaf_certificate = Buffer.from(v);
    else if (f.field === 2) out.intermediate_certificates.push(Buffer.from(v));
    else if (f.field === 3) out.valid_until = decodeTimestamp(v);
  }
  return out;
}

/** Test helper and server-side symmetry: encodes a CertifyResponse. */
export function encodeCertifyResponse(m: CertifyResponseMessage): Buffer {
  const parts: Buffer[] = [];
  if (m.leaf_certificate?.length) parts.push(...lengthDelimited(1, m.leaf_certificate));
  for (const c of m.intermediate_certificates) parts.push(...lengthDelimited(2, c));
  if (m.valid_until) parts.push(...lengthDelimited(3, encodeTimestamp(m.valid_until)));
  return Buffer.concat(parts);
}
