/**
 * originalDst without iptables: a connection nobody redirected answers null, a bad fd
 * throws with the errno, and socketFd finds the fd behind a net.Socket or says why not.
 * (With a real REDIRECT rule: original-dst-redirect.test.ts.)
 */
import { closeSync, openSync } from 'node:fs';
import { createServer, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { socketFd, type NativeAddon } from '../../../proxy/native/index.js';
import { describeNative } from './native-fixture.js';

/** Calls `probe` on the server side of a loopback connection to `host`. */
async function onAccepted<T>(host: string, probe: (s: Socket) => T): Promise<T> {
  return new Promise((resolve, reject) => {
    const server = createServer((s) => {
      try {
        resolve(probe(s));
      } catch (e) {
        reject(e);
      } finally {
        s.destroy();
        server.close();
      }
    });
    server.on('error', reject);
    server.listen(0, host, () => {
      const port = (server.address() as { port: number }).port;
      connect(port, host).on('error', () => undefined);
    });
  });
}

describeNative('originalDst', (addon: NativeAddon) => {
  test('ok/plain-loopback-connection-is-not-redirected (IPv4)', async () => {
    expect(await onAccepted('127.0.0.1', (s) => addon.originalDst(socketFd(s)))).toBeNull();
  });

  test('ok/plain-loopback-connection-is-not-redirected (IPv6)', async () => {
    const result = await onAccepted('::1', (s) => addon.originalDst(socketFd(s))).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRNOTAVAIL' || e.code === 'EAFNOSUPPORT') return null; // no IPv6 here
      throw e;
    });
    expect(result).toBeNull();
  });

  test('fail/fd-not-open throws EBADF', () => {
    expect(() => addon.originalDst(1_000_000)).toThrow(expect.objectContaining({ code: 'EBADF', message: expect.stringMatching(/Bad file descriptor/) }));
  });

  test('fail/fd-not-a-socket throws ENOTSOCK', () => {
    const fd = openSync(tmpdir(), 'r');
    try {
      expect(() => addon.originalDst(fd)).toThrow(expect.objectContaining({ code: 'ENOTSOCK' }));
    } finally {
      closeSync(fd);
    }
  });

  test.each([[-1], [1.5], ['3'], [null], [Number.NaN]])('fail/fd %p is a TypeError', (fd) => {
    // The addon's errors come from Node's own realm, not Jest's, so compare by name.
    expect(() => (addon.originalDst as (fd: unknown) => unknown)(fd)).toThrow(
      expect.objectContaining({ name: 'TypeError', message: expect.stringMatching(/^fd must be a non-negative integer/) }),
    );
  });
});

describe('socketFd', () => {
  test('ok/accepted-socket', async () => {
    expect(await onAccepted('127.0.0.1', (s) => socketFd(s))).toBeGreaterThan(2);
  });

  test('fail/closed-socket says why', async () => {
    const closed = await onAccepted('127.0.0.1', (s) => {
      s.destroy();
      return s;
    });
    expect(() => socketFd(closed)).toThrow(/no handle \(it is closed/);
  });
});
