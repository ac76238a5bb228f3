/**
 * The file descriptor behind a net.Socket, for originalDst().
 *
 * This is the one Node internal Lanyard relies on: a TCP socket's libuv handle
 * (`socket._handle`, a TCPWrap) exposes `fd` on Unix. Node has no public API for it. If a
 * Node release drops it, this throws rather than guessing, and the transparent proxy
 * reports that it cannot read original destinations.
 */
import type { Socket } from 'node:net';

export function socketFd(socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: unknown } | null })._handle;
  if (!handle) throw new Error('socketFd: the socket has no handle (it is closed, or not yet connected)');
  const fd = handle.fd;
  if (typeof fd !== 'number' || !Number.isInteger(fd) || fd < 0) {
    throw new Error(`socketFd: the socket's handle exposes no file descriptor (got ${String(fd)}); this Node version or platform lacks _handle.fd`);
  }
  return fd;
}
