/**
 * Protobuf encoding of the Discovery messages (proto/lanyard/discovery/v1/discovery.proto),
 * by hand, for the sidecar; checked against protobufjs in the unit tests.
 */
import { fields, lengthDelimited, LEN, varint, VARINT } from './wire.js';

export interface ResolveRequestMessage {
  address: string;
  port: number;
}

export interface EndpointMessage {
  address: string;
  port: number;
  meshed: boolean;
  identity: string;
  spiffe_id: string;
  source: string;
  workload: string;
}

export function encodeResolveRequest(m: ResolveRequestMessage): Buffer {
  const parts: Buffer[] = [];
  if (m.address) parts.push(...lengthDelimited(1, Buffer.from(m.address, 'utf8')));
  if (m.port) parts.push(Buffer.from([(2 << 3) | VARINT, ...varint(m.port)]));
  return Buffer.concat(parts);
}

const STRINGS: Record<number, keyof EndpointMessage> = { 1: 'address', 4: 'identity', 5: 'spiffe_id', 6: 'source', 7: 'workload' };

export function decodeEndpoint(buf: Buffer): EndpointMessage {
  const e: EndpointMessage = { address: '', port: 0, meshed: false, identity: '', spiffe_id: '', source: '', workload: '' };
  for (const f of fields(buf)) {
    if (f.wire === LEN && STRINGS[f.field]) (e as unknown as Record<string, string>)[STRINGS[f.field]] = (f.value as Buffer).toString('utf8');
    else if (f.wire === VARINT && f.field === 2) e.port = f.value as number;
    else if (f.wire === VARINT && f.field === 3) e.meshed = (f.value as number) !== 0;
  }
  return e;
}
