/**
 * The protobuf field reader: unknown fixed32/fixed64 fields are skipped when complete and
 * refused when cut short, as protobufjs refuses them (checked side by side).
 */
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { protoRoot } from '../../../src/proto/index.js';
import { fields, ProtobufError } from '../../../src/proto/wire.js';

const def = protoLoader.loadSync(join(protoRoot(), 'identity.proto'), { keepCase: true, longs: Number, defaults: true, includeDirs: [protoRoot()] });
const { responseDeserialize } = (def['io.linkerd.proxy.identity.Identity'] as Record<string, { responseDeserialize: (b: Buffer) => unknown }>).Certify;

const read = (hex: string) => [...fields(Buffer.from(hex, 'hex'))].map((f) => ({ field: f.field, wire: f.wire, value: Buffer.isBuffer(f.value) ? f.value.toString('hex') : f.value }));

// Field 9 is unknown to CertifyResponse; field 1 (leaf_certificate) follows it.
test.each([
  ['ok/fixed64-skipped', '4901020304050607080a0161', [{ field: 1, wire: 2, value: '61' }]],
  ['ok/fixed32-skipped', '4d010203040a0161', [{ field: 1, wire: 2, value: '61' }]],
])('%s', (_n, hex, want) => {
  expect(read(hex)).toEqual(want);
  expect(() => responseDeserialize(Buffer.from(hex, 'hex'))).not.toThrow();
});

test.each([
  ['fail/fixed64-truncated', '4901020304050607', /field 9: truncated fixed64/],
  ['fail/fixed64-header-only', '49', /field 9: truncated fixed64/],
  ['fail/fixed32-truncated', '4d010203', /field 9: truncated fixed32/],
  ['fail/fixed32-after-a-field', '0a01614d01', /field 9: truncated fixed32/],
])('%s is refused, as protobufjs refuses it', (_n, hex, msg) => {
  expect(() => read(hex)).toThrow(ProtobufError);
  expect(() => read(hex)).toThrow(msg);
  expect(() => responseDeserialize(Buffer.from(hex, 'hex'))).toThrow(/index out of range/);
});
