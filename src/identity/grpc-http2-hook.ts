/**
 * The one place Lanyard reaches into grpc-js: to see the HTTP/2 servers it creates.
 *
 * Why: grpc-js bounds a call's message size, but not how long a stream may take to send it,
 * how long a session may sit before its preface, or how many connections a listener takes.
 * Those limits need the HTTP/2 server's `session` and `stream` events, which grpc-js keeps
 * to itself. `Server.createHttp2Server(credentials)` (grpc-js 1.10+) makes every listener's
 * server, for `bindAsync` and connection injectors alike; wrapping it on our instance lets
 * us attach before the first connection is accepted, so no session escapes the limits.
 *
 * If a grpc-js upgrade renames or removes it, `hookHttp2Servers` throws at construction and
 * `assertHooked` throws after bind: the service fails to start, loudly, instead of serving
 * without its limits.
 */
import type { Server as GrpcServer } from '@grpc/grpc-js';
import type { Http2SecureServer, Http2Server } from 'node:http2';
import { Server as NetServer } from 'node:net';

export type GrpcHttp2Server = Http2Server | Http2SecureServer;

interface WithCreateHttp2Server {
  createHttp2Server?: (credentials: unknown) => GrpcHttp2Server;
}

export class GrpcInternalsError extends Error {
  constructor(what: string) {
    super(`grpc-js internals changed: ${what}; the identity service cannot apply its connection limits (see src/identity/grpc-http2-hook.ts)`);
    this.name = 'GrpcInternalsError';
  }
}

/** Calls `onServer` with each HTTP/2 server `grpcServer` creates, before it listens. Returns a count getter. */
export function hookHttp2Servers(grpcServer: GrpcServer, onServer: (server: GrpcHttp2Server) => void): () => number {
  const target = grpcServer as unknown as WithCreateHttp2Server;
  const original = target.createHttp2Server;
  if (typeof original !== 'function') throw new GrpcInternalsError('Server.createHttp2Server is missing');
  let hooked = 0;
  target.createHttp2Server = function (this: unknown, credentials: unknown): GrpcHttp2Server {
    const server = original.call(this, credentials);
    if (!(server instanceof NetServer)) throw new GrpcInternalsError('Server.createHttp2Server did not return an HTTP/2 server');
    hooked++;
    onServer(server);
    return server;
  };
  return () => hooked;
}

/** After a successful bind: at least one server must have passed through the hook. */
export function assertHooked(count: () => number): void {
  if (count() < 1) throw new GrpcInternalsError('bindAsync listened without Server.createHttp2Server');
}
