/**
 * The proxy's `/audit` stream (proxy/audit/audit-stream.ts) over real HTTP on loopback, with
 * two subscribers: one that reads (`lanyard tap`'s client, src/audit/admin-client.ts) and
 * one that stops reading. Publishing never waits on the stalled one: records are dropped for
 * it once it has more than its buffer unsent, each drop counted; the reader gets every
 * record. When the stalled subscriber reads again it is told how many it missed, then records
 * flow again, so what it got plus what it was told it missed is everything published.
 * (That a stalled tap does not change the data path's latency is measured, not asserted:
 * `npm run bench:tap`.)
 */
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tapProxy, type Tap } from '../../src/audit/admin-client.js';
import { AuditStream } from '../../proxy/audit/audit-stream.js';
import type { AuditRecordV1 } from '../../src/telemetry/audit-record.js';
import { waitUntil } from '../support/mesh-harness.js';

const BUFFER = 64 * 1024;
/** Small enough that the reader's share of a batch fits its buffer before it reads it. */
const BATCH = 20;
const BATCHES = 500;

const record = (i: number): AuditRecordV1 => ({
  audit: 'v1',
  time: new Date(1_800_000_000_000 + i).toISOString(),
  event: 'connection',
  direction: 'inbound',
  local_identity: 'api.default.serviceaccount.identity.lanyard.cluster.local',
  peer_identity: 'web.default.serviceaccount.identity.lanyard.cluster.local',
  peer_spiffe_id: 'spiffe://cluster.local/ns/default/sa/web',
  peer_serial: 'ABCDEF',
  peer_issuer_fingerprint_sha256: null,
  expected_identity: null,
  tls: true,
  transport: 'mux',
  session: 's1',
  src: '127.0.0.1:50000',
  dst: '127.0.0.1:8080',
  port: 8080,
  decision: 'allow',
  would_deny: false,
  rule: 'default:all-unauthenticated',
  reason: `record ${i}`,
  bytes_rx: i,
  bytes_tx: i,
  duration_ms: 1,
  close_reason: 'eof',
});

let server: Server;
let stream: AuditStream;
let drops = 0;
let subscribers = 0;
let reader: Tap | undefined;
let stalled: IncomingMessage | undefined;

beforeAll(async () => {
  stream = new AuditStream({ identity: () => 'api', maxBufferedBytes: BUFFER, onDropped: () => void drops++, onSubscribers: (d) => void (subscribers += d) });
  server = createServer((req, res) => stream.handle(req, res, new URL(req.url ?? '/', 'http://x').searchParams));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  reader?.close();
  stalled?.destroy();
  stream.closeAll();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

test('a stalled subscriber loses records, counted and then told; the reader loses none', async () => {
  const admin = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const got: number[] = [];
  let readerDropped = 0;
  let wanted: { n: number; resolve: () => void } | null = null;
  /** Resolves once the reader has `n` records (on the record that makes it n, not by polling). */
  const readerHas = (n: number) => new Promise<void>((resolve) => (got.length >= n ? resolve() : (wanted = { n, resolve })));
  await new Promise<void>((onSubscribed) => {
    const onRecord = (r: AuditRecordV1) => {
      got.push(r.bytes_rx);
      if (wanted && got.length >= wanted.n) wanted.resolve();
    };
    reader = tapProxy({ name: 'api', admin }, {}, { onSubscribed, onRecord, onDropped: (n) => void (readerDropped += n) });
  });

  // The stalled subscriber: subscribes, reads the confirmation, then stops reading.
  let stalledText = '';
  stalled = await new Promise<IncomingMessage>((resolve) => get(`http://${admin}/audit?format=jsonl`, resolve));
  stalled.setEncoding('utf8');
  stalled.on('data', (c: string) => void (stalledText += c));
  await waitUntil(() => stalledText.includes('"stream":"subscribed"'), 'the stalled subscriber confirmed');
  stalled.pause();
  expect(subscribers).toBe(2);

  // Batches the reader keeps up with (it runs on this event loop); the stalled one fills up.
  let published = 0;
  for (let b = 0; b < BATCHES; b++) {
    for (let i = 0; i < BATCH; i++) {
      const r = record(published++);
      stream.publish(r, JSON.stringify(r));
    }
    const timeout = setTimeout(() => wanted?.resolve(), 10_000); // then the asserts below say what is missing
    await readerHas(published);
    clearTimeout(timeout);
    if (got.length !== published || readerDropped) break;
  }
  expect(got).toEqual(Array.from({ length: published }, (_, i) => i));
  expect(readerDropped).toBe(0);
  expect(drops).toBeGreaterThan(0);
  expect(drops).toBeLessThan(published);

  // Reading again: first what was queued, then how many were dropped, then records again.
  stalled.resume();
  await waitUntil(() => /"stream":"dropped"/.test(stalledText), 'the stalled subscriber told how many it missed', 20_000);
  const last = record(published++);
  stream.publish(last, JSON.stringify(last));
  await waitUntil(() => stalledText.includes(`"reason":"record ${published - 1}"`), 'a record after the catch-up', 20_000);
  const lines = stalledText.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { stream?: string; dropped?: number; bytes_rx?: number });
  const told = lines.filter((l) => l.stream === 'dropped');
  expect(told).toEqual([{ stream: 'dropped', dropped: drops }]);
  const received = lines.filter((l) => l.bytes_rx !== undefined).map((l) => l.bytes_rx!);
  expect(received.length + drops).toBe(published);
  // In order, and the records after the "dropped" line are the newest.
  expect([...received].sort((a, b) => a - b)).toEqual(received);
  expect(received.at(-1)).toBe(published - 1);
});
