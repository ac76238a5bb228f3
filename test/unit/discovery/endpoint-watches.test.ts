/**
 * Watch streams are written when their answer changes and only then: no timer exists per
 * stream (or at all), so a minute of fake time with nothing changing costs no lookup and no
 * write; a change is written at once to the streams of that address alone; a stream opened
 * before the source is ready gets its first answer when the source says `all`.
 */
import { jest } from '@jest/globals';
import { EndpointWatches } from '../../../src/discovery/endpoint-watches.js';
import { unmeshed } from '../../../src/discovery/endpoint.js';
import type { EndpointMessage, ResolveRequestMessage } from '../../../src/proto/discovery-codec.js';
import { MemoryEndpointSource } from '../../support/memory-endpoint-source.js';

const WEB = 'web.default.serviceaccount.identity.lanyard.cluster.local';
const API = 'api.default.serviceaccount.identity.lanyard.cluster.local';

function hub(source: MemoryEndpointSource): EndpointWatches {
  return new EndpointWatches(source, (req: ResolveRequestMessage): EndpointMessage => {
    const e = source.lookup(req.address, req.port) ?? unmeshed(req.address, req.port);
    return { address: e.address, port: e.port, meshed: e.meshed, identity: e.identity, spiffe_id: e.spiffeId, source: e.source, workload: e.workload };
  });
}

const sink = () => {
  const written: EndpointMessage[] = [];
  return { written, write: (a: EndpointMessage) => written.push(a) };
};

beforeEach(() => jest.useFakeTimers());
afterEach(() => jest.useRealTimers());

test('ok/no periodic work: a minute of nothing is no lookup, no write and no timer', () => {
  const source = new MemoryEndpointSource();
  source.set('10.0.0.1', WEB);
  source.sync();
  const watches = hub(source);
  const sinks = Array.from({ length: 200 }, (_, i) => {
    const s = sink();
    watches.add({ address: `10.0.${i >> 8}.${i & 255}`, port: 8080 }, s);
    return s;
  });
  expect(watches.size).toBe(200);
  expect(sinks.every((s) => s.written.length === 1)).toBe(true);
  const lookups = source.lookups;
  expect(jest.getTimerCount()).toBe(0);
  jest.advanceTimersByTime(60_000);
  expect(source.lookups).toBe(lookups);
  expect(sinks.every((s) => s.written.length === 1)).toBe(true);
});

test('ok/a change is written at once, only to the streams of that address, and only when the answer differs', () => {
  const source = new MemoryEndpointSource();
  source.sync();
  const watches = hub(source);
  const a1 = sink();
  const a2 = sink();
  const b = sink();
  watches.add({ address: '10.0.0.1', port: 8080 }, a1);
  watches.add({ address: '::ffff:10.0.0.1', port: 9090 }, a2);
  watches.add({ address: '10.0.0.2', port: 8080 }, b);
  const lookups = source.lookups;

  source.set('10.0.0.1', WEB);
  expect(a1.written.map((w) => w.identity)).toEqual(['', WEB]);
  expect(a2.written.map((w) => [w.port, w.identity])).toEqual([
    [9090, ''],
    [9090, WEB],
  ]);
  expect(b.written).toHaveLength(1);
  expect(source.lookups).toBe(lookups + 2);

  // The same answer again (an unrelated edit of the same entry) is not written.
  source.set('10.0.0.1', WEB);
  expect(a1.written).toHaveLength(2);
  source.set('10.0.0.1', API);
  expect(a1.written.map((w) => w.identity)).toEqual(['', WEB, API]);
});

test('ok/a stream opened before the source is ready is answered when it becomes ready', () => {
  const source = new MemoryEndpointSource();
  const watches = hub(source);
  const s = sink();
  watches.add({ address: '10.0.0.1', port: 8080 }, s);
  source.set('10.0.0.1', WEB); // still syncing: nothing is written yet
  expect(s.written).toEqual([]);
  source.sync();
  expect(s.written.map((w) => w.identity)).toEqual([WEB]);
});

test('ok/a removed stream is not written again, and close unsubscribes from the source', () => {
  const source = new MemoryEndpointSource();
  source.sync();
  const watches = hub(source);
  const s = sink();
  const remove = watches.add({ address: '10.0.0.1', port: 8080 }, s);
  remove();
  remove();
  expect(watches.size).toBe(0);
  source.set('10.0.0.1', WEB);
  expect(s.written).toHaveLength(1);
  const t = sink();
  watches.add({ address: '10.0.0.3', port: 1 }, t);
  watches.close();
  source.set('10.0.0.3', WEB);
  expect(t.written).toHaveLength(1);
});
