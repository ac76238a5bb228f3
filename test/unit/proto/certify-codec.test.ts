/**
 * The hand-written Certify codec against protobufjs (through @grpc/proto-loader, from
 * proto/identity.proto): byte-identical encodings, and decoding what protobufjs encodes.
 */
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { protoRoot } from '../../../src/proto/index.js';
import { decodeCertifyResponse, encodeCertifyRequest, encodeCertifyResponse, ProtobufError } from '../../../src/proto/certify-codec.js';

const def = protoLoader.loadSync(join(protoRoot(), 'identity.proto'), { keepCase: true, longs: Number, defaults: true, includeDirs: [protoRoot()] });
type Codec = { serialize: (v: unknown) => Buffer; deserialize: (b: Buffer) => Record<string, unknown> };
const method = (def['io.linkerd.proxy.identity.Identity'] as Record<string, { requestSerialize: Codec['serialize']; responseSerialize: Codec['serialize']; responseDeserialize: Codec['deserialize'] }>).Certify;

test.each([
  ['ok/typical', { identity: 'web.default.serviceaccount.identity.lanyard.cluster.local', token: Buffer.from('a.b.c'), certificate_signing_request: Buffer.alloc(300, 7) }],
  ['ok/long-fields', { identity: 'x'.repeat(200), token: Buffer.alloc(70_000, 1), certificate_signing_request: Buffer.alloc(129, 2) }],
])('%s request encodes exactly as protobufjs does', (_n, msg) => {
  expect(encodeCertifyRequest(msg).equals(method.requestSerialize(msg))).toBe(true);
});

test('ok/empty fields are omitted (proto3) and decode to defaults in protobufjs', () => {
  const enc = encodeCertifyRequest({ identity: '', token: Buffer.alloc(0), certificate_signing_request: Buffer.alloc(0) });
  expect(enc.length).toBe(0);
  const requestDeserialize = (def['io.linkerd.proxy.identity.Identity'] as Record<string, { requestDeserialize: Codec['deserialize'] }>).Certify.requestDeserialize;
  expect(requestDeserialize(enc)).toMatchObject({ identity: '' });
});

test.each([
  ['ok/with-chain', { leaf_certificate: Buffer.alloc(500, 3), intermediate_certificates: [Buffer.alloc(400, 4), Buffer.alloc(10, 5)], valid_until: { seconds: 1_795_000_000, nanos: 123 } }],
  ['ok/no-chain', { leaf_certificate: Buffer.alloc(5, 3), intermediate_certificates: [], valid_until: { seconds: 4_102_444_800, nanos: 1 } }],
])('%s response round-trips with protobufjs both ways', (_n, msg) => {
  const theirs = method.responseSerialize(msg);
  expect(encodeCertifyResponse(msg).equals(theirs)).toBe(true);
  const decoded = decodeCertifyResponse(theirs);
  expect(decoded.leaf_certificate.equals(msg.leaf_certificate)).toBe(true);
  expect(decoded.intermediate_certificates.map((b) => b.toString('hex'))).toEqual(msg.intermediate_certificates.map((b) => b.toString('hex')));
  expect(decoded.valid_until).toEqual(msg.valid_until);
});

test('ok/unknown fields are skipped', () => {
  const extra = Buffer.concat([Buffer.from([0x08 | (9 << 3), 0x05]), encodeCertifyResponse({ leaf_certificate: Buffer.from([1, 2]), intermediate_certificates: [], valid_until: null })]);
  expect(decodeCertifyResponse(extra).leaf_certificate).toEqual(Buffer.from([1, 2]));
});

test.each([
  ['fail/truncated-length', Buffer.from([0x0a, 0x05, 1, 2])],
  ['fail/truncated-varint', Buffer.from([0x0a, 0x80])],
  ['fail/bad-wire-type', Buffer.from([0x0f])],
])('%s', (_n, buf) => {
  expect(() => decodeCertifyResponse(buf)).toThrow(ProtobufError);
});
