/**
 * Graceful stop for a listener: stop accepting, give open connections a grace period to
 * finish on their own, then destroy what is left — and wait for those connections to be
 * closed and audited, so no audit line is lost to process exit.
 */
import type { Server, Socket } from 'node:net';

export async function drain(servers: Server[], sockets: Set<Socket>, graceMs: number): Promise<void> {
  for (const s of servers) s.close();
  const deadline = Date.now() + graceMs;
  while (sockets.size && Date.now() < deadline) await sleep(Math.min(50, deadline - Date.now()));
  for (const s of sockets) s.destroy();
  for (let i = 0; sockets.size && i < 20; i++) await sleep(10);
  // Let the close handlers' promise continuations (the audit lines) run.
  await sleep(0);
  await new Promise((r) => setImmediate(r));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
