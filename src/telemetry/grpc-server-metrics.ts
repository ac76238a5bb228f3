/**
 * gRPC server metrics in go-grpc-prometheus's vocabulary, the one Linkerd's controllers
 * (identity, destination) export: `grpc_server_started_total`, `grpc_server_handled_total`,
 * `grpc_server_msg_received_total`, `grpc_server_msg_sent_total` and
 * `grpc_server_handling_seconds`, labelled `grpc_type`, `grpc_service`, `grpc_method` and
 * (handled) `grpc_code` spelled as Go spells codes (`OK`, `InvalidArgument`, …). Dashboards
 * and alerts written for a Linkerd control plane read Lanyard's unchanged.
 *
 * Every method's series are created at zero up front, as go-grpc-prometheus does, so a rate
 * is defined before the first failure. Only registered methods are counted: label values
 * never come from what a client sent.
 */
import { Counter, Histogram, type Registry } from './metrics.js';

/** Go's names for gRPC status codes, indexed by code. */
export const GRPC_CODE_NAMES = [
  'OK',
  'Canceled',
  'Unknown',
  'InvalidArgument',
  'DeadlineExceeded',
  'NotFound',
  'AlreadyExists',
  'PermissionDenied',
  'ResourceExhausted',
  'FailedPrecondition',
  'Aborted',
  'OutOfRange',
  'Unimplemented',
  'Internal',
  'Unavailable',
  'DataLoss',
  'Unauthenticated',
] as const;

export type GrpcType = 'unary' | 'client_stream' | 'server_stream' | 'bidi_stream';

export interface GrpcMethod {
  /** Fully qualified service, e.g. io.linkerd.proxy.identity.Identity. */
  service: string;
  method: string;
  type: GrpcType;
}

type MethodLabels = 'grpc_type' | 'grpc_service' | 'grpc_method';

/** go-grpc-prometheus's DefBuckets, with finer buckets below 5ms where Certify answers. */
const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class GrpcServerMetrics {
  private readonly byPath = new Map<string, Record<MethodLabels, string>>();
  private readonly startedTotal: Counter<MethodLabels>;
  private readonly handledTotal: Counter<MethodLabels | 'grpc_code'>;
  private readonly receivedTotal: Counter<MethodLabels>;
  private readonly sentTotal: Counter<MethodLabels>;
  private readonly handling: Histogram<MethodLabels>;

  constructor(registry: Registry, methods: GrpcMethod[]) {
    const registers = [registry];
    const labelNames: MethodLabels[] = ['grpc_type', 'grpc_service', 'grpc_method'];
    this.startedTotal = new Counter({ name: 'grpc_server_started_total', help: 'Total number of RPCs started on the server.', labelNames, registers });
    this.handledTotal = new Counter({
      name: 'grpc_server_handled_total',
      help: 'Total number of RPCs completed on the server, regardless of success or failure.',
      labelNames: [...labelNames, 'grpc_code'],
      registers,
    });
    this.receivedTotal = new Counter({ name: 'grpc_server_msg_received_total', help: 'Total number of RPC stream messages received on the server.', labelNames, registers });
    this.sentTotal = new Counter({ name: 'grpc_server_msg_sent_total', help: 'Total number of gRPC stream messages sent by the server.', labelNames, registers });
    this.handling = new Histogram({
      name: 'grpc_server_handling_seconds',
      help: 'Histogram of response latency (seconds) of gRPC that had been application-level handled by the server.',
      labelNames,
      buckets: BUCKETS,
      registers,
    });
    for (const m of methods) {
      const labels = { grpc_type: m.type, grpc_service: m.service, grpc_method: m.method };
      this.byPath.set(`/${m.service}/${m.method}`, labels);
      this.startedTotal.inc(labels, 0);
      this.receivedTotal.inc(labels, 0);
      this.sentTotal.inc(labels, 0);
      this.handling.zero(labels);
      for (const grpc_code of GRPC_CODE_NAMES) this.handledTotal.inc({ ...labels, grpc_code }, 0);
    }
  }

  /** The labels of a registered method's path (`/pkg.Service/Method`), or undefined. */
  method(path: string | undefined): Record<MethodLabels, string> | undefined {
    return path === undefined ? undefined : this.byPath.get(path);
  }

  started(labels: Record<MethodLabels, string>): void {
    this.startedTotal.inc(labels);
  }

  /** A finished call: its status code (a number; anything unknown counts as Unknown) and duration. */
  handled(labels: Record<MethodLabels, string>, code: number, seconds: number): void {
    this.handledTotal.inc({ ...labels, grpc_code: GRPC_CODE_NAMES[code] ?? 'Unknown' });
    this.handling.observe(labels, seconds);
  }

  received(labels: Record<MethodLabels, string>): void {
    this.receivedTotal.inc(labels);
  }

  sent(labels: Record<MethodLabels, string>): void {
    this.sentTotal.inc(labels);
  }
}
