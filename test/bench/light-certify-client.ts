/**
 * A minimal gRPC client for Certify on bare node:http2, for load generation only: it sends
 * requests pre-encoded with the sidecar's own codec and checks only grpc-status, so the load
 * generator spends as little of the machine's two cores as the peers' minimal HTTP clients
 * do (cfssl-load.mjs).
 * Correctness of responses is covered by the tests, which use grpc-js.
 */
import { connect, constants, type ClientHttp2Session } from 'node:http2';
import { encodeCertifyRequest } from '../../src/proto/certify-codec.js';
import { CERTIFY_PATH } from '../../proxy/identity/certify-client.js';
import { frame } from '../../proxy/grpc/grpc-channel.js';

/** A complete gRPC message frame for CertifyRequest{identity, token, csr}. */
export function certifyFrame(identity: string, token: string, csr: Buffer): Buffer {
  return frame(encodeCertifyRequest({ identity, token: Buffer.from(token), certificate_signing_request: csr }));
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
        [constants.HTTP2_HEADER_PATH]: CERTIFY_PATH,
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
