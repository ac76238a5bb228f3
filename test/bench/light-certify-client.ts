/**
 * A minimal gRPC client for Certify on bare node:http2, for load generation only: it frames
 * and encodes the request by hand and checks grpc-status, so the load generator spends as
 * little of the machine's two cores as the peers' minimal HTTP clients do (cfssl-load.mjs).
 * Correctness of responses is covered by the tests, which use grpc-js.
 */
import { connect, constants, type ClientHttp2Session } from 'node:http2';

const PATH = '/io.linkerd.proxy.identity.Identity/Certify';

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

function field(tag: number, value: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), varint(value.length), value]);
}

/** A complete gRPC message frame for CertifyRequest{identity, token, csr}. */
export function certifyFrame(identity: string, token: string, csr: Buffer): Buffer {
  const msg = Buffer.concat([field(0x0a, Buffer.from(identity)), field(0x12, Buffer.from(token)), field(0x1a, csr)]);
  const header = Buffer.alloc(5);
  header.writeUInt32BE(msg.length, 1);
  return Buffer.concat([header, msg]);
}

export class LightCertifyClient {
  private readonly session: ClientHttp2Session;

  constructor(port: number, serverName: string, anchorPem: string) {
    this.session = connect(`https://127.0.0.1:${port}`, { ca: anchorPem, servername: serverName });
    this.session.on('error', () => undefined);
  }

  /** Resolves with the response message length; rejects unless grpc-status is 0. */
  call(frame: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      const stream = this.session.request({
        [constants.HTTP2_HEADER_METHOD]: 'POST',
        [constants.HTTP2_HEADER_PATH]: PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let bytes = 0;
      stream.on('data', (d: Buffer) => (bytes += d.length));
      stream.on('trailers', (t) => {
        if (t['grpc-status'] === '0' && bytes > 5) resolve(bytes - 5);
        else reject(new Error(`grpc-status ${String(t['grpc-status'])}: ${String(t['grpc-message'] ?? '')}`));
      });
      stream.on('error', reject);
      stream.on('close', () => reject(new Error('stream closed without trailers')));
      stream.end(frame);
    });
  }

  close(): void {
    this.session.close();
  }
}
