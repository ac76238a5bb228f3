/**
 * SIGTERM stops accepting at once, lets open connections finish for
 * LANYARD_PROXY_SHUTDOWN_GRACE, then closes what is left and exits 0 — an idle keep-alive
 * connection cannot hold a pod's termination for the whole idle timeout.
 */
import { connect } from 'node:net';
import { Mesh } from '../support/mesh-harness.js';

test('an idle connection does not keep the proxy alive past the grace period', async () => {
  const mesh = await Mesh.start();
  try {
    const app = await mesh.app('api');
    const p = await mesh.proxy({ name: 'api', sa: 'api', env: { LANYARD_PROXY_APP_PORT: String(app), LANYARD_PROXY_SHUTDOWN_GRACE: '500ms' } });
    const idle = connect(p.inbound, '127.0.0.1');
    await new Promise<void>((r) => idle.once('connect', () => r()));
    idle.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise<void>((r) => idle.once('data', () => r()));
    const closed = new Promise<void>((r) => idle.once('close', () => r()));
    idle.on('error', () => undefined);
    const started = Date.now();
    const exited = new Promise<number | null>((r) => p.child.once('exit', (code) => r(code)));
    p.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await closed;
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(400);
    expect(took).toBeLessThan(4000);
    expect(p.where({ event: 'connection', direction: 'inbound' })).toHaveLength(1);
  } finally {
    await mesh.stop();
  }
}, 30_000);
