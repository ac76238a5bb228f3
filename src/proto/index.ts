/**
 * Loads the `.proto` files in the top-level `proto/` directory and exposes their services
 * and message types. Field names keep their proto spelling (`leaf_certificate`).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Finds `proto/` by walking up from this module (it sits at a different depth in dist/). */
export function protoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'proto', 'identity.proto'))) return join(dir, 'proto');
    dir = dirname(dir);
  }
  throw new Error('cannot find the proto/ directory above ' + fileURLToPath(import.meta.url));
}

const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true };

export function loadProto(file: string): grpc.GrpcObject {
  const def = protoLoader.loadSync(join(protoRoot(), file), { ...LOADER_OPTIONS, includeDirs: [protoRoot()] });
  return grpc.loadPackageDefinition(def);
}

export * from './messages.js';

let identityService: grpc.ServiceClientConstructor | null = null;

/** `io.linkerd.proxy.identity.Identity`, loaded once. */
export function identityServiceDefinition(): grpc.ServiceClientConstructor {
  if (!identityService) {
    const pkg = loadProto('identity.proto') as unknown as {
      io: { linkerd: { proxy: { identity: { Identity: grpc.ServiceClientConstructor } } } };
    };
    identityService = pkg.io.linkerd.proxy.identity.Identity;
  }
  return identityService;
}

let discoveryService: grpc.ServiceClientConstructor | null = null;

/** `lanyard.discovery.v1.Discovery`, loaded once. */
export function discoveryServiceDefinition(): grpc.ServiceClientConstructor {
  if (!discoveryService) {
    const pkg = loadProto('lanyard/discovery/v1/discovery.proto') as unknown as {
      lanyard: { discovery: { v1: { Discovery: grpc.ServiceClientConstructor } } };
    };
    discoveryService = pkg.lanyard.discovery.v1.Discovery;
  }
  return discoveryService;
}

let issuerStatusService: grpc.ServiceClientConstructor | null = null;

/** `lanyard.identity.v1.IssuerStatus`, loaded once. */
export function issuerStatusServiceDefinition(): grpc.ServiceClientConstructor {
  if (!issuerStatusService) {
    const pkg = loadProto('lanyard/identity/v1/issuer.proto') as unknown as {
      lanyard: { identity: { v1: { IssuerStatus: grpc.ServiceClientConstructor } } };
    };
    issuerStatusService = pkg.lanyard.identity.v1.IssuerStatus;
  }
  return issuerStatusService;
}
