/**
 * The open Watch streams, by address, and the one rule that drives them: a stream is
 * written when its answer changes, and only then. The source says what changed (addresses,
 * or `all` when it has just become ready); nothing here polls, so an idle discovery service
 * does no work per stream, however many proxies watch it.
 */
import type { EndpointMessage, ResolveRequestMessage } from '../proto/discovery-codec.js';
import { normalizeAddress, type EndpointChange, type EndpointSource } from './endpoint.js';

/** The part of a server stream a watch writes to. */
export interface AnswerSink {
  write(answer: EndpointMessage): unknown;
}

interface Watch {
  request: ResolveRequestMessage;
  sink: AnswerSink;
  /** The answer last written, serialized; a new answer equal to it is not written. */
  last: string;
}

export class EndpointWatches {
  private readonly byAddress = new Map<string, Set<Watch>>();
  private readonly unsubscribe: () => void;
  private count = 0;

  constructor(
    private readonly source: EndpointSource,
    /** The answer for a request now (the server's Resolve answer). */
    private readonly answer: (request: ResolveRequestMessage) => EndpointMessage,
  ) {
    this.unsubscribe = source.onChange((change) => this.changed(change));
  }

  /** Open streams. */
  get size(): number {
    return this.count;
  }

  /** Writes the current answer now if the source is ready (else on `all`), then on each change. Returns a remove. */
  add(request: ResolveRequestMessage, sink: AnswerSink): () => void {
    const key = normalizeAddress(request.address);
    const watch: Watch = { request, sink, last: '' };
    let set = this.byAddress.get(key);
    if (!set) this.byAddress.set(key, (set = new Set()));
    set.add(watch);
    this.count++;
    this.send(watch);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      this.count--;
      set.delete(watch);
      if (set.size === 0 && this.byAddress.get(key) === set) this.byAddress.delete(key);
    };
  }

  close(): void {
    this.unsubscribe();
    this.byAddress.clear();
    this.count = 0;
  }

  private changed(change: EndpointChange): void {
    if (change === 'all') {
      for (const set of this.byAddress.values()) for (const w of [...set]) this.send(w);
      return;
    }
    for (const address of change) for (const w of [...(this.byAddress.get(normalizeAddress(address)) ?? [])]) this.send(w);
  }

  private send(w: Watch): void {
    if (!this.source.ready()) return;
    const a = this.answer(w.request);
    const s = JSON.stringify(a);
    if (s === w.last) return;
    w.last = s;
    w.sink.write(a);
  }
}
