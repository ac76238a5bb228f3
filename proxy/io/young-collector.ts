/**
 * Frees the socket buffers a bulk transfer leaves behind, a few MiB at a time. Every socket
 * read is a fresh Buffer whose bytes live outside V8's heap; the splice hands it on and
 * drops it within a millisecond, but V8 frees those bytes only when it collects the small
 * Buffer object. Its young generation (1 MiB, set by proxy/bin/lanyard-proxy) fills with
 * such objects slowly, so V8 instead starts a full collection when 64 MiB of outside bytes
 * have piled up: a proxy moving a 10 MiB body then holds ~50 MiB of dead buffers. Asking
 * for a young-generation collection (a scavenge: tens of microseconds, since nearly nothing
 * in it is alive) every `everyBytes` moved bounds that garbage to about `everyBytes`.
 *
 * Needs the `gc` function (`--expose-gc`, set by the launcher); without it nothing happens.
 * Small exchanges never reach the threshold between the collections V8 does on its own.
 */
type GcFn = (o: { type: 'minor'; execution: 'async' }) => void;

export class YoungCollector {
  private total = 0;
  /** `total` when the last collection was requested. */
  private collectedAt = 0;
  private scheduled = false;

  constructor(
    private readonly gc: GcFn | null,
    private readonly everyBytes = 8 * 1024 * 1024,
  ) {}

  /** The collector for this process: one that does nothing unless `gc` is exposed. */
  static forProcess(): YoungCollector {
    const gc = (globalThis as { gc?: unknown }).gc;
    return new YoungCollector(typeof gc === 'function' ? (gc as GcFn) : null);
  }

  /** Bytes noted so far (monotonic): what proxy/io/memory-relief.ts calls a bulk burst. */
  movedTotal(): number {
    return this.total;
  }

  /** `n` bytes were read from one socket and handed to another. */
  note(n: number): void {
    this.total += n;
    if (this.gc === null) return;
    if (this.total - this.collectedAt < this.everyBytes || this.scheduled) return;
    this.collectedAt = this.total;
    this.scheduled = true;
    // After the current reads are handled: their buffers are garbage by then.
    setImmediate(() => {
      this.scheduled = false;
      this.gc!({ type: 'minor', execution: 'async' });
    });
  }
}

/** The one every splice of this process reports to. */
export const youngCollector = YoungCollector.forProcess();

/** A full, synchronous garbage collection, where `gc` is exposed (the launcher's --expose-gc). */
export function fullCollection(): (() => void) | undefined {
  const gc = (globalThis as { gc?: unknown }).gc;
  return typeof gc === 'function' ? () => (gc as () => void)() : undefined;
}
