/**
 * Waits for a condition that an event will make true (a log line, a counter, a reload),
 * checking it every 10ms; fails naming what it waited for.
 */
export async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
