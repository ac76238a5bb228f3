/**
 * A Certify client: TLS to the identity service, verifying its chain against the trust
 * anchors and its name against the identity it is expected to have. Runs on the sidecar's
 * small gRPC channel (proxy/grpc) with the hand-written protobuf codec.
 */
import { decodeCertifyResponse, encodeCertifyRequest } from '../../src/proto/certify-codec.js';
import { decodeIssuerStatus, encodeWatchRequest, ISSUER_WATCH_PATH, type IssuerStatusMessage } from '../../src/proto/issuer-status-codec.js';
import { toTimestamp, type CertifyResponseMessage } from '../../src/proto/messages.js';
import { GrpcChannel, GrpcError, GrpcStatus } from '../grpc/grpc-channel.js';

export const CERTIFY_PATH = '/io.linkerd.proxy.identity.Identity/Certify';

export interface CertifyClientConfig {
  /** `host:port` of the identity service. */
  address: string;
  /** The identity the service must present, e.g. lanyard-identity.lanyard.serviceaccount.identity.lanyard.cluster.local. */
  serverName: string;
  /** PEM trust anchors the service's chain must verify to. */
  trustAnchorsPem: string;
  /** Per-call deadline. Default 10s. */
  timeoutMs?: number;
  /** PING keepalive on the channel. Default 20s; 0 disables. */
  keepaliveMs?: number;
}

/** A failed call: the gRPC status code and the server's message. */
export class CertifyError extends GrpcError {
  constructor(code: number, details: string) {
    super(code, details);
    this.name = 'CertifyError';
    this.message = `Certify failed: ${this.codeName}: ${details}`;
  }
}

export class CertifyClient {
  private readonly channel: GrpcChannel;

  constructor(private readonly cfg: CertifyClientConfig) {
    this.channel = new GrpcChannel({ address: cfg.address, tls: { serverName: cfg.serverName, trustAnchorsPem: cfg.trustAnchorsPem }, keepaliveMs: cfg.keepaliveMs });
  }

  async certify(identity: string, token: string | Buffer, csr: Buffer): Promise<CertifyResponseMessage> {
    const req = encodeCertifyRequest({ identity, token: Buffer.isBuffer(token) ? token : Buffer.from(token), certificate_signing_request: csr });
    let res: Buffer;
    try {
      res = await this.channel.unary(CERTIFY_PATH, req, this.cfg.timeoutMs ?? 10_000);
    } catch (e) {
      const g = e as GrpcError;
      throw new CertifyError(g.code ?? GrpcStatus.UNKNOWN, g.details ?? String(e));
    }
    try {
      return decodeCertifyResponse(res);
    } catch (e) {
      throw new CertifyError(GrpcStatus.INTERNAL, `malformed response: ${(e as Error).message}`);
    }
  }

  /**
   * Lanyard's issuer status stream (proto/lanyard/identity/v1/issuer.proto), on the same
   * HTTP/2 connection as Certify, so its PING keepalive guards both. `onEnd` is called once;
   * UNIMPLEMENTED means the service has no such stream (Linkerd's identity controller).
   * @param sentAt called with the clock reading put in the request (for the skew estimate)
   */
  watchIssuer(
    identity: string,
    h: { onStatus: (s: IssuerStatusMessage) => void; onEnd: (err: GrpcError | null) => void },
    now: () => number = Date.now,
  ): { cancel: () => void; sentAt: number } {
    const sentAt = now();
    const req = encodeWatchRequest({ client_time: toTimestamp(new Date(sentAt)), identity });
    const call = this.channel.call(ISSUER_WATCH_PATH, req, null, {
      onMessage: (m) => {
        let status: IssuerStatusMessage;
        try {
          status = decodeIssuerStatus(m);
        } catch (e) {
          return call.cancel(new GrpcError(GrpcStatus.INTERNAL, `malformed issuer status: ${(e as Error).message}`));
        }
        h.onStatus(status);
      },
      onEnd: h.onEnd,
    });
    return { cancel: () => call.cancel(), sentAt };
  }

  close(): void {
    this.channel.close();
  }
}
