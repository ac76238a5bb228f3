/**
 * The relay transport's one door into the native relay (proxy/native/src/relay.c): it starts
 * the relay thread once per process and routes its events to whoever owns each stream and
 * connection, the outbound RelayClient and the inbound RelayInbound alike.
 *
 * Ids: connections are numbered here for both sides; server streams are numbered by the
 * relay (from 1), client streams here from CLIENT_STREAM_BASE, so the two never meet.
 */
import { nativeRelay, RelayEvent, type NativeRelay, type RelayOptions } from '../native/index.js';

export interface StreamListener {
  /** The bytes flow: the client's peer connected the application, or the server connected it. */
  started(): void;
  /** The stream is over; `fromApp`/`toApp` are the application socket's bytes; reason: RelayEnd. */
  ended(fromApp: number, toApp: number, reason: number, detail: number): void;
}

export interface ConnectionListener {
  /** Server: a stream asks to open to `port`; answer with relayAdmit. */
  decide?(stream: number, port: number): void;
  /** The connection is gone; reason: RelayClosed. */
  closed(reason: number, streams: number): void;
}

const CLIENT_STREAM_BASE = 2 ** 40;

export class RelayHub {
  private readonly streams = new Map<number, StreamListener>();
  private readonly connections = new Map<number, ConnectionListener>();
  private lastConnection = 0;
  private lastStream = CLIENT_STREAM_BASE;

  constructor(
    readonly native: NativeRelay,
    /** The options the relay thread was started with (the first caller's). */
    readonly options: RelayOptions,
  ) {
    native.relayInit((kind, id, a, b, c, d) => this.event(kind, id, a, b, c, d), options);
  }

  newConnection(listener: ConnectionListener): number {
    const id = ++this.lastConnection;
    this.connections.set(id, listener);
    return id;
  }

  newStream(listener: StreamListener): number {
    const id = ++this.lastStream;
    this.streams.set(id, listener);
    return id;
  }

  /** A server stream the relay numbered (DECIDE). */
  listen(stream: number, listener: StreamListener): void {
    this.streams.set(stream, listener);
  }

  /** Forgets a connection the relay was never given (its hand-off failed). */
  dropConnection(connection: number): void {
    this.connections.delete(connection);
  }

  /** Forgets a stream the relay was never given (its hand-off failed). */
  forget(stream: number): void {
    this.streams.delete(stream);
  }

  get openStreams(): number {
    return this.streams.size;
  }

  private event(kind: number, id: number, a: number, b: number, c: number, d: number): void {
    switch (kind) {
      case RelayEvent.DECIDE:
        return this.connections.get(a)?.decide?.(id, b);
      case RelayEvent.STARTED:
        return this.streams.get(id)?.started();
      case RelayEvent.ENDED: {
        const s = this.streams.get(id);
        this.streams.delete(id);
        return s?.ended(a, b, c, d);
      }
      case RelayEvent.CLOSED: {
        const c0 = this.connections.get(id);
        this.connections.delete(id);
        return c0?.closed(a, b);
      }
    }
  }
}

let hub: RelayHub | null | undefined;

/** The process's relay, started on first use with `options`; null when the addon has no relay. */
export function relayHub(options: RelayOptions): RelayHub | null {
  if (hub !== undefined) return hub;
  const native = nativeRelay();
  hub = native ? new RelayHub(native, options) : null;
  return hub;
}
