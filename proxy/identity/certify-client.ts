/**
 * A Certify client: TLS to the identity service, verifying its certificate chain against
 * the trust anchors and its name against the identity it is expected to have.
 */
import * as grpc from '@grpc/grpc-js';
import { identityServiceDefinition, type CertifyRequestMessage, type CertifyResponseMessage } from '../../src/proto/index.js';

export interface CertifyClientConfig {
  /** `host:port` of the identity service. */
  address: string;
  /** The identity the service must present, e.g. lanyard-identity.lanyard.serviceaccount.identity.lanyard.cluster.local. */
  serverName: string;
  /** PEM trust anchors the service's chain must verify to. */
  trustAnchorsPem: string;
  /** Per-call deadline. Default 10s. */
  timeoutMs?: number;
}

/** A failed call: the gRPC status code and the server's message. */
export class CertifyError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(`Certify failed: ${grpc.status[code] ?? code}: ${details}`);
    this.name = 'CertifyError';
  }
}

type IdentityClient = grpc.Client & {
  Certify(
    req: CertifyRequestMessage,
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: CertifyResponseMessage) => void,
  ): grpc.ClientUnaryCall;
};

export class CertifyClient {
  private readonly client: IdentityClient;

  constructor(private readonly cfg: CertifyClientConfig) {
    const Ctor = identityServiceDefinition();
    const creds = grpc.credentials.createSsl(Buffer.from(cfg.trustAnchorsPem));
    this.client = new Ctor(cfg.address, creds, {
      'grpc.ssl_target_name_override': cfg.serverName,
      'grpc.default_authority': cfg.serverName,
      'grpc.max_receive_message_length': 1024 * 1024,
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 5000,
    }) as unknown as IdentityClient;
  }

  certify(identity: string, token: string | Buffer, csr: Buffer): Promise<CertifyResponseMessage> {
    const deadline = new Date(Date.now() + (this.cfg.timeoutMs ?? 10_000));
    const req: CertifyRequestMessage = { identity, token: Buffer.isBuffer(token) ? token : Buffer.from(token), certificate_signing_request: csr };
    return new Promise((resolve, reject) => {
      this.client.Certify(req, { deadline }, (err, res) => {
        if (err) reject(new CertifyError(err.code, err.details));
        else if (!res) reject(new CertifyError(grpc.status.INTERNAL, 'empty response'));
        else resolve(res);
      });
    });
  }

  close(): void {
    this.client.close();
  }
}
