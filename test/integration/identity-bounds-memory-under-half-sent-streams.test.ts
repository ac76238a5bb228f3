/**
 * Unauthenticated clients cannot grow the identity service's memory without bound. The
 * attack from issue 7, against a real `lanyard identity` process over real TLS and HTTP/2
 * (node:http2, as an attacker would write it): 8 connections × 1,000 Certify streams, each
 * declaring a 65,000-byte message and sending 60,000 bytes, then nothing. Before the limits
 * it took the service from 180 to 690 MB and no stream was closed in 60 s.
 *
 * Now: each connection gets 32 streams (the rest are refused), a declared size over 16 KiB
 * is answered RESOURCE_EXHAUSTED, every stream is closed once its request deadline passes,
 * resident memory stays within a few tens of MB of where it started, and a legitimate
 * Certify on another connection is answered throughout. A second wave that stays under the
 * size limit (16,000 declared, 15,000 sent) is answered DEADLINE_EXCEEDED at the deadline.
 */
import { status } from '@grpc/grpc-js';
import { constants } from 'node:http2';
import { HalfSentStreams } from '../support/half-sent-streams.js';
import { startIdentityProcess, until, type IdentityProcess } from '../support/identity-process.js';

const REQUEST_TIMEOUT_MS = 3000;
/** Growth allowed over the baseline; the unbounded service grew by about 500 MB. */
const RSS_BUDGET = 120 * 1024 * 1024;

let svc: IdentityProcess;
beforeAll(async () => {
  svc = await startIdentityProcess(['--request-timeout', `${REQUEST_TIMEOUT_MS}ms`]);
});
afterAll(() => svc?.stop());

async function attack(declaredBytes: number, sentBytes: number): Promise<{ attack: HalfSentStreams; peakRss: number; baseline: number; startedAt: number }> {
  const legit = svc.client();
  await svc.certify(legit); // warm: JIT, TLS, token cache
  const baseline = svc.rss();
  let peakRss = baseline;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, svc.rss())), 100);
  const a = new HalfSentStreams({ address: svc.addr, connections: 8, streams: 1000, declaredBytes, sentBytes });
  const startedAt = Date.now();
  try {
    a.start();
    // While the attack holds its streams, a proxy on its own connection is still served.
    await svc.certify(svc.client());
    await a.until(() => a.ended.length === a.opened, REQUEST_TIMEOUT_MS + 20_000);
    peakRss = Math.max(peakRss, svc.rss());
    await svc.certify(legit);
  } finally {
    clearInterval(sampler);
    a.close();
  }
  return { attack: a, peakRss, baseline, startedAt };
}

const answered = (a: HalfSentStreams, code: number) => a.ended.filter((e) => e.grpcStatus === code && e.rstCode === constants.NGHTTP2_NO_ERROR).length;

test('8 × 1,000 half-sent 65,000-byte streams: refused, answered, closed, memory bounded', async () => {
  const { attack: a, peakRss, baseline } = await attack(65_000, 60_000);
  expect(a.opened).toBe(8000);
  // Answered RESOURCE_EXHAUSTED as soon as the 5-byte prefix is read, or DEADLINE_EXCEEDED if
  // (on a loaded machine) even that had not been read by the deadline; then reset.
  const tooLarge = a.ended.filter((e) => e.grpcStatus === status.RESOURCE_EXHAUSTED);
  const late = a.ended.filter((e) => e.grpcStatus === status.DEADLINE_EXCEEDED);
  const accepted = answered(a, status.RESOURCE_EXHAUSTED) + answered(a, status.DEADLINE_EXCEEDED);
  // Over the stream limit: REFUSED_STREAM; over the session memory limit: ENHANCE_YOUR_CALM.
  const refusedCodes: number[] = [constants.NGHTTP2_REFUSED_STREAM, constants.NGHTTP2_ENHANCE_YOUR_CALM];
  const refused = a.ended.filter((e) => e.grpcStatus === undefined && refusedCodes.includes(e.rstCode)).length;
  if (accepted + refused !== 8000) throw new Error(`streams ended some other way: ${a.summary()}`);
  expect(accepted).toBeGreaterThan(0);
  expect(accepted).toBeLessThanOrEqual(8 * 32);
  expect(new Set(tooLarge.map((e) => e.grpcMessage))).toEqual(new Set(tooLarge.length ? ['Received message larger than max (65000 vs 16384)'] : []));
  expect(new Set(late.map((e) => e.grpcMessage))).toEqual(new Set(late.length ? [`request not received in full within ${REQUEST_TIMEOUT_MS}ms of its first byte`] : []));
  console.log(`RSS baseline ${(baseline / 2 ** 20).toFixed(0)} MiB, peak ${(peakRss / 2 ** 20).toFixed(0)} MiB under the attack; ${a.summary()}`);
  expect(peakRss - baseline).toBeLessThan(RSS_BUDGET);
});

test('streams under the size limit that never finish are answered DEADLINE_EXCEEDED at the request deadline', async () => {
  const before = await svc.sample('lanyard_identity_request_timeouts_total');
  const { attack: a, peakRss, baseline, startedAt } = await attack(16_000, 15_000);
  const timedOut = a.ended.filter((e) => e.grpcStatus === status.DEADLINE_EXCEEDED);
  expect(timedOut.length).toBeGreaterThan(0);
  expect(timedOut.length).toBeLessThanOrEqual(8 * 32);
  expect(answered(a, status.DEADLINE_EXCEEDED)).toBe(timedOut.length);
  expect(timedOut[0].grpcMessage).toBe(`request not received in full within ${REQUEST_TIMEOUT_MS}ms of its first byte`);
  // Nothing was closed before the deadline (the streams were only slow, not oversized).
  expect(Date.now() - startedAt).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS);
  expect(peakRss - baseline).toBeLessThan(RSS_BUDGET);
  const after = await until(() => svc.sample('lanyard_identity_request_timeouts_total'), (v) => v >= before + timedOut.length, 5000, 'the timeouts counter');
  expect(after).toBe(before + timedOut.length);
  const metrics = await svc.metrics();
  expect(metrics).toMatch(/grpc_server_handled_total\{grpc_type="unary",grpc_service="io\.linkerd\.proxy\.identity\.Identity",grpc_method="Certify",grpc_code="DeadlineExceeded"\} [1-9]/);
});
