import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { protoRoot } from '../../../src/proto/index.js';
import { decodeEndpoint, encodeResolveRequest } from '../../../src/proto/discovery-codec.js';

const def = protoLoader.loadSync(join(protoRoot(), 'lanyard/discovery/v1/discovery.proto'), { keepCase: true, longs: Number, defaults: true, includeDirs: [protoRoot()] });
const watch = (def['lanyard.discovery.v1.Discovery'] as Record<string, { requestSerialize: (v: unknown) => Buffer; responseSerialize: (v: unknown) => Buffer }>).Watch;

test.each([['10.0.0.2', 8080], ['fd00::1', 443]])('ok/ResolveRequest %s:%d encodes as protobufjs does', (address, port) => {
  expect(encodeResolveRequest({ address, port }).equals(watch.requestSerialize({ address, port }))).toBe(true);
});

test('ok/Endpoint decodes what protobufjs encodes', () => {
  const e = { address: '10.0.0.2', port: 8080, meshed: true, identity: 'web.default.serviceaccount.identity.lanyard.cluster.local', spiffe_id: 'spiffe://cluster.local/ns/default/sa/web', source: 'kubernetes', workload: 'default/web-1' };
  expect(decodeEndpoint(watch.responseSerialize(e))).toEqual(e);
  expect(decodeEndpoint(watch.responseSerialize({ address: '10.0.0.9', port: 1, meshed: false, source: 'none' }))).toMatchObject({ meshed: false, identity: '', source: 'none' });
});
