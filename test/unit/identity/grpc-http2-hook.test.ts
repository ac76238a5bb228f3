/**
 * The one grpc-js internal the identity service relies on fails loudly when it is gone:
 * construction throws if `Server.createHttp2Server` is missing, and a bind that did not go
 * through it is reported, so a grpc-js upgrade cannot silently drop the connection limits.
 */
import * as grpc from '@grpc/grpc-js';
import { Server as NetServer } from 'node:net';
import { assertHooked, GrpcInternalsError, hookHttp2Servers } from '../../../src/identity/grpc-http2-hook.js';

test('ok/every HTTP/2 server grpc-js creates for a bind passes through the hook before it listens', async () => {
  const server = new grpc.Server();
  const seen: NetServer[] = [];
  const count = hookHttp2Servers(server, (h2) => {
    expect(h2.listening).toBe(false);
    seen.push(h2);
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  try {
    expect(port).toBeGreaterThan(0);
    expect(count()).toBe(1);
    expect(seen[0]).toBeInstanceOf(NetServer);
    expect(seen[0].listening).toBe(true);
    expect(() => assertHooked(count)).not.toThrow();
  } finally {
    server.forceShutdown();
  }
});

test('fail/grpc-js without createHttp2Server: construction throws', () => {
  const server = new grpc.Server();
  (server as unknown as { createHttp2Server?: unknown }).createHttp2Server = undefined;
  expect(() => hookHttp2Servers(server, () => undefined)).toThrow(GrpcInternalsError);
  expect(() => hookHttp2Servers(server, () => undefined)).toThrow(/grpc-js internals changed: Server\.createHttp2Server is missing/);
});

test('fail/a bind that never used the hook is reported', () => {
  expect(() => assertHooked(() => 0)).toThrow(/bindAsync listened without Server\.createHttp2Server/);
});
