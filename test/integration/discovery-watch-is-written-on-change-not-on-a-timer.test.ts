/**
 * The discovery server's Watch over real gRPC on loopback: streams opened before the source
 * is ready get their first answer when it syncs; a change reaches the one stream that
 * watches that address promptly; and over changes paced across more than a second, the
 * server looks up only what changed. (A per-stream poll, as before, would have looked up
 * every one of the 51 streams at least once in that time.)
 */
import * as grpc from '@grpc/grpc-js';
import { DiscoveryServer } from '../../src/discovery/discovery-server.js';
import { discoveryServiceDefinition } from '../../src/proto/index.js';
import type { EndpointMessage } from '../../src/proto/discovery-codec.js';
import { createRegistry } from '../../src/telemetry/metrics.js';
import { LogSink } from '../support/log-sink.js';
import { MemoryEndpointSource } from '../support/memory-endpoint-source.js';

const id = (sa: string) => `${sa}.default.serviceaccount.identity.lanyard.cluster.local`;
const TARGET = '10.9.0.1';
const OTHERS = Array.from({ length: 50 }, (_, i) => `10.8.0.${i + 1}`);

/** One Watch stream and the answers it received, with a wait for the next one. */
class Stream {
  readonly answers: EndpointMessage[] = [];
  private waiter: (() => void) | null = null;
  readonly call: grpc.ClientReadableStream<EndpointMessage>;

  constructor(client: grpc.Client, address: string) {
    this.call = (client as unknown as { Watch(req: object): grpc.ClientReadableStream<EndpointMessage> }).Watch({ address, port: 8080 });
    this.call.on('data', (a: EndpointMessage) => {
      this.answers.push(a);
      this.waiter?.();
    });
    this.call.on('error', () => undefined); // cancelled at the end
  }

  answered(n: number, ms = 10_000): Promise<void> {
    if (this.answers.length >= n) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stream had ${this.answers.length} answers, waited for ${n}`)), ms);
      this.waiter = () => {
        if (this.answers.length < n) return;
        clearTimeout(timer);
        this.waiter = null;
        resolve();
      };
    });
  }
}

test('Watch: answered at sync, a change reaches only its stream promptly, no lookups without changes', async () => {
  const source = new MemoryEndpointSource();
  const registry = createRegistry();
  const server = new DiscoveryServer({ source, logger: new LogSink().logger(), registry });
  const port = await server.listen('127.0.0.1', 0);
  const Client = discoveryServiceDefinition();
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const streams: Stream[] = [];
  try {
    source.set(TARGET, id('web'));
    const target = new Stream(client, TARGET);
    streams.push(target, ...OTHERS.map((a) => new Stream(client, a)));
    // Wait until the server holds all 51 streams (none is answered before the source syncs).
    for (let i = 0; i < 200 && !/lanyard_discovery_watches_active 51/.test(await registry.metrics()); i++) await new Promise((r) => setTimeout(r, 20));
    expect(await registry.metrics()).toMatch(/lanyard_discovery_watches_active 51/);
    expect(streams.every((s) => s.answers.length === 0)).toBe(true);

    source.sync();
    await Promise.all(streams.map((s) => s.answered(1)));
    expect(target.answers[0]).toMatchObject({ meshed: true, identity: id('web') });
    expect(streams.slice(1).every((s) => s.answers[0].meshed === false)).toBe(true);

    const lookups = source.lookups;
    const latencies: number[] = [];
    const changes = 10;
    for (let i = 0; i < changes; i++) {
      // Paced so that the changes span more than a second: room for any timer to show.
      await new Promise((r) => setTimeout(r, 150));
      const t0 = performance.now();
      source.set(TARGET, i % 2 === 0 ? id('api') : id('web'));
      await target.answered(2 + i);
      latencies.push(performance.now() - t0);
    }
    expect(target.answers.slice(1).map((a) => a.identity)).toEqual(Array.from({ length: changes }, (_, i) => (i % 2 === 0 ? id('api') : id('web'))));
    expect(streams.slice(1).map((s) => s.answers.length)).toEqual(OTHERS.map(() => 1));
    expect(source.lookups - lookups).toBe(changes);
    latencies.sort((a, b) => a - b);
    console.log(`discovery Watch: change to answer on the client, median ${latencies[changes >> 1].toFixed(2)} ms, max ${latencies[changes - 1].toFixed(2)} ms (${streams.length} streams open)`);
  } finally {
    for (const s of streams) s.call.cancel();
    client.close();
    await server.close();
  }
}, 30_000);
