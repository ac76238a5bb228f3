/**
 * The issuer status stream's server side (src/identity/issuer-status-service.ts), with fake
 * calls: a stream gets the status at once and on every change and expiry of the issuer store;
 * not-ready says why; a caller that stops reading is skipped, not buffered for; streams beyond
 * the limit are refused RESOURCE_EXHAUSTED; a caller's clock is observed and logged past --skew.
 */
import { EventEmitter } from 'node:events';
import * as grpc from '@grpc/grpc-js';
import { IssuerStatusService, type IssuerStatus, type IssuerStatusServiceConfig } from '../../../src/identity/issuer-status-service.js';
import { createRegistry } from '../../../src/telemetry/metrics.js';
import { toTimestamp } from '../../../src/proto/messages.js';
import { LogSink } from '../../support/log-sink.js';

const NOW = 1_800_000_000_000;

function fakeIssuers() {
  const change = new Set<() => void>();
  const expiry = new Set<() => void>();
  const state = { valid: true, fingerprint: 'AA:AA', notAfter: new Date(NOW + 3600_000) };
  return {
    state,
    fire: (which: 'change' | 'expiry') => (which === 'change' ? change : expiry).forEach((l) => l()),
    issuers: {
      current: () => (state.valid ? ({ fingerprint: state.fingerprint } as never) : null),
      loadedIssuer: () => ({ fingerprint: state.fingerprint, notAfter: state.notAfter }) as never,
      unavailableReason: () => 'issuer CN=x expired at then',
      bundleFingerprint: () => 'bundle-1',
      onChange: (l: () => void) => (change.add(l), () => void change.delete(l)),
      onExpiry: (l: () => void) => (expiry.add(l), () => void expiry.delete(l)),
    },
  };
}

class FakeCall extends EventEmitter {
  written: IssuerStatus[] = [];
  writableLength = 0;
  cancelled = false;
  error: { code: number; details: string } | null = null;
  constructor(readonly request: { client_time: { seconds: number; nanos: number } | null; identity: string }) {
    super();
    this.on('error', (e: { code: number; details: string }) => void (this.error = e));
  }
  write(s: IssuerStatus): boolean {
    this.written.push(s);
    return true;
  }
  end(): void {}
  getPeer(): string {
    return 'ipv4:127.0.0.1:5555';
  }
}

function fixture(o: { maxStreams?: number } = {}) {
  const f = fakeIssuers();
  const logs = new LogSink();
  const registry = createRegistry();
  const svc = new IssuerStatusService({ issuers: f.issuers as unknown as IssuerStatusServiceConfig['issuers'], logger: logs.logger(), registry, maxStreams: o.maxStreams, heartbeatMs: 3600_000, clock: () => NOW });
  svc.start();
  const open = (clientMs: number | null = NOW, identity = 'web.default') => {
    const c = new FakeCall({ client_time: clientMs === null ? null : toTimestamp(new Date(clientMs)), identity });
    (svc.handlers().Watch as (c: unknown) => void)(c);
    return c;
  };
  return { ...f, svc, logs, registry, open };
}

test('ok/the status at once, then on a change and at the expiry', () => {
  const f = fixture();
  const c = f.open();
  expect(c.written).toEqual([
    { issuer_fingerprint_sha256: 'AA:AA', bundle_fingerprint: 'bundle-1', server_time: toTimestamp(new Date(NOW)), issuer_not_after: toTimestamp(f.state.notAfter), ready: true, reason: '' },
  ]);
  f.state.fingerprint = 'BB:BB';
  f.fire('change');
  expect(c.written[1].issuer_fingerprint_sha256).toBe('BB:BB');
  f.state.valid = false;
  f.fire('expiry');
  expect(c.written[2]).toMatchObject({ ready: false, reason: 'issuer CN=x expired at then', issuer_fingerprint_sha256: 'BB:BB' });
  f.svc.stop();
});

test('ok/a caller that stops reading is skipped, then served again', () => {
  const f = fixture();
  const c = f.open();
  c.writableLength = 4;
  f.fire('change');
  expect(c.written).toHaveLength(1);
  c.writableLength = 0;
  f.fire('change');
  expect(c.written).toHaveLength(2);
  f.svc.stop();
});

test('ok/a cancelled or closed stream is forgotten; the gauge follows', async () => {
  const f = fixture();
  const a = f.open();
  f.open();
  expect(await f.registry.metrics()).toMatch(/^lanyard_identity_issuer_watch_streams 2$/m);
  a.emit('cancelled');
  expect(await f.registry.metrics()).toMatch(/^lanyard_identity_issuer_watch_streams 1$/m);
  f.fire('change');
  expect(a.written).toHaveLength(1);
  f.svc.stop();
  expect(await f.registry.metrics()).toMatch(/^lanyard_identity_issuer_watch_streams 0$/m);
});

test('fail/beyond the stream limit: RESOURCE_EXHAUSTED, nothing written', () => {
  const f = fixture({ maxStreams: 2 });
  f.open();
  f.open();
  const third = f.open();
  expect(third.error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  expect(third.written).toEqual([]);
  f.svc.stop();
});

test.each([
  ['ok/within-skew', NOW + 19_000, 0],
  ['ok/ahead-past-skew', NOW + 25_000, 1],
  ['ok/behind-past-skew', NOW - 25_000, 1],
  ['ok/no-client-time', null, 0],
])('%s: observed, and logged past --skew (20 s)', async (_n, clientMs, logged) => {
  const f = fixture();
  f.open(clientMs);
  const text = await f.registry.metrics();
  expect(text).toMatch(new RegExp(`^lanyard_identity_client_clock_skew_seconds_count ${clientMs === null ? 0 : 1}$`, 'm'));
  const lines = f.logs.where({ event: 'client_clock_skew' });
  expect(lines).toHaveLength(logged);
  if (logged) expect(lines[0]).toMatchObject({ skew_ms: clientMs! - NOW, allowed_ms: 20_000, claimed_identity: 'web.default', level: 'warn' });
  f.svc.stop();
});
