/**
 * Small helpers for abortable waits. An aborted wait rejects with `signal.reason`, so the
 * caller sees the K8sError that whoever aborted chose (timeout, close), not a generic
 * AbortError.
 */

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Settles with `work`, or rejects with the signal's reason when it aborts first. The
 * generated client does not honour an AbortSignal at every step (e.g. while an exec
 * credential plugin runs), so the deadline is enforced here as well as on the socket.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  // A late rejection of the losing promise must not become an unhandled rejection.
  work.catch(() => undefined);
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** A signal that aborts when any of `signals` does, with that signal's reason. */
export function anySignal(signals: (AbortSignal | undefined)[]): { signal: AbortSignal; dispose: () => void } {
  const ctl = new AbortController();
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  const listeners = present.map((s) => {
    const fn = (): void => ctl.abort(s.reason);
    if (s.aborted) ctl.abort(s.reason);
    else s.addEventListener('abort', fn, { once: true });
    return { s, fn };
  });
  return {
    signal: ctl.signal,
    dispose: () => listeners.forEach(({ s, fn }) => s.removeEventListener('abort', fn)),
  };
}
