/**
 * The hand-written issuer status codec against protobufjs (through @grpc/proto-loader, from
 * proto/lanyard/identity/v1/issuer.proto): each decodes what the other encodes, and with no
 * field at its default (protobufjs writes a default it was handed, proto3 encoders may omit
 * it, as ours does) the bytes are identical.
 */
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { protoRoot } from '../../../src/proto/index.js';
import { decodeIssuerStatus, encodeIssuerStatus, encodeWatchRequest, ISSUER_WATCH_PATH, type IssuerStatusMessage } from '../../../src/proto/issuer-status-codec.js';

const def = protoLoader.loadSync(join(protoRoot(), 'lanyard/identity/v1/issuer.proto'), { keepCase: true, longs: Number, defaults: true, includeDirs: [protoRoot()] });
type Method = {
  path: string;
  requestSerialize: (v: unknown) => Buffer;
  requestDeserialize: (b: Buffer) => Record<string, unknown>;
  responseSerialize: (v: unknown) => Buffer;
  responseDeserialize: (b: Buffer) => Record<string, unknown>;
};
const watch = (def['lanyard.identity.v1.IssuerStatus'] as Record<string, Method>).Watch;

test('ok/the path is the service and method the .proto declares', () => {
  expect(watch.path).toBe(ISSUER_WATCH_PATH);
});

test.each([
  ['ok/typical', { client_time: { seconds: 1_795_000_000, nanos: 5_000_000 }, identity: 'web.default.serviceaccount.identity.lanyard.cluster.local' }],
])('%s WatchRequest encodes exactly as protobufjs does', (_n, msg) => {
  expect(encodeWatchRequest(msg).equals(watch.requestSerialize(msg))).toBe(true);
  expect(watch.requestDeserialize(encodeWatchRequest(msg))).toMatchObject(msg);
});

test('ok/a zero nanos and no identity decode the same both ways', () => {
  const msg = { client_time: { seconds: 1, nanos: 0 }, identity: '' };
  expect(watch.requestDeserialize(encodeWatchRequest(msg))).toMatchObject(msg);
});

const ready: IssuerStatusMessage = {
  issuer_fingerprint_sha256: 'AA:BB:CC',
  bundle_fingerprint: 'ab'.repeat(32),
  server_time: { seconds: 1_795_000_000, nanos: 999_000_000 },
  issuer_not_after: { seconds: 4_102_444_800, nanos: 1 },
  ready: true,
  reason: '',
};

test('ok/a Status with every field set encodes exactly as protobufjs does', () => {
  const msg = { ...ready, reason: 'heartbeat' };
  expect(encodeIssuerStatus(msg).equals(watch.responseSerialize(msg))).toBe(true);
});

test.each([
  ['ok/ready', ready],
  ['ok/not-ready-with-reason', { ...ready, ready: false, reason: 'issuer "CN=x" expired at Jan 1 00:00:00 2030 GMT' }],
  ['ok/not-ready-zero-times', { ...ready, ready: false, reason: 'no valid issuer', issuer_not_after: { seconds: 0, nanos: 0 }, server_time: { seconds: 7, nanos: 0 } }],
])('%s Status decodes the same through both codecs', (_n, msg) => {
  expect(decodeIssuerStatus(watch.responseSerialize(msg))).toEqual(msg);
  expect(watch.responseDeserialize(encodeIssuerStatus(msg))).toMatchObject(msg);
});

test('ok/unknown fields are skipped', () => {
  const extra = Buffer.concat([encodeIssuerStatus(ready), Buffer.from([(9 << 3) | 2, 2, 1, 2])]);
  expect(decodeIssuerStatus(extra)).toEqual(ready);
});
