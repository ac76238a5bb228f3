/**
 * Certify's message shapes (proto field names) and Timestamp helpers, without loading gRPC:
 * the sidecar imports these, and only the servers load grpc-js and the .proto files.
 */

export interface Timestamp {
  seconds: number;
  nanos: number;
}

export interface CertifyRequestMessage {
  identity: string;
  token: Buffer;
  certificate_signing_request: Buffer;
}

export interface CertifyResponseMessage {
  leaf_certificate: Buffer;
  intermediate_certificates: Buffer[];
  valid_until: Timestamp | null;
}

export const toTimestamp = (d: Date): Timestamp => ({ seconds: Math.floor(d.getTime() / 1000), nanos: (d.getTime() % 1000) * 1e6 });
export const fromTimestamp = (t: Timestamp): Date => new Date(Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6));
