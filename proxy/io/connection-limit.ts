/**
 * How many connections a direction may hold at once, with a share kept for authenticated
 * peers. Every connection takes a slot when it is accepted, before anyone knows who the peer
 * is (those are bounded in time by the detect and handshake timeouts); once the peer is known,
 * an unauthenticated one keeps its slot only while unauthenticated peers hold fewer than
 * `max - reserve`. So clients without a certificate (a flood of them, or of sessions that
 * never open a stream) can never take the slots a verified peer proxy needs.
 */
export class ConnectionLimit {
  private total = 0;
  private unauthenticated = 0;

  /**
   * @param max concurrent connections (slots)
   * @param reserve slots only authenticated peers may use; clamped to [0, max - 1]
   */
  constructor(
    readonly max: number,
    reserve = 0,
  ) {
    this.reserve = Math.max(0, Math.min(reserve, max - 1));
  }

  readonly reserve: number;

  get active(): number {
    return this.total;
  }

  /** A slot, or null at the limit. */
  admit(): Slot | null {
    if (this.total >= this.max) return null;
    this.total++;
    return new Slot(this);
  }

  /** @internal Slot bookkeeping. */
  classify(authenticated: boolean): boolean {
    if (authenticated) return true;
    if (this.unauthenticated >= this.max - this.reserve) return false;
    this.unauthenticated++;
    return true;
  }

  /** @internal */
  free(unauthenticated: boolean): void {
    this.total--;
    if (unauthenticated) this.unauthenticated--;
  }
}

export class Slot {
  private state: 'pending' | 'authenticated' | 'unauthenticated' | 'released' = 'pending';

  constructor(private readonly limit: ConnectionLimit) {}

  /**
   * The peer is now known. False (and the slot is released) when it is unauthenticated and
   * the unauthenticated share is full. Called once; later calls answer as the first did.
   */
  classify(authenticated: boolean): boolean {
    if (this.state === 'authenticated' || this.state === 'unauthenticated') return true;
    if (this.state === 'released') return false;
    if (!this.limit.classify(authenticated)) {
      this.release();
      return false;
    }
    this.state = authenticated ? 'authenticated' : 'unauthenticated';
    return true;
  }

  /** Idempotent. */
  release(): void {
    if (this.state === 'released') return;
    this.limit.free(this.state === 'unauthenticated');
    this.state = 'released';
  }
}
