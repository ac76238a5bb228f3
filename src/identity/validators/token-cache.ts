/**
 * A small cache of verified tokens.
 *
 * A proxy presents the same token on every refresh and a restarted deployment presents
 * many tokens at once, so verifying a JWT signature per request is wasted work. Entries
 * live until the token's own expiry or `ttlMs`, whichever is first; the map is bounded and
 * evicts the oldest entry. Only successful verifications are cached.
 */
import type { ServiceAccountRef } from '../../pki/names.js';

export interface TokenCacheConfig {
  /** Default 60s. */
  ttlMs?: number;
  /** Default 10,000 tokens. */
  maxEntries?: number;
  clock?: () => number;
}

interface Entry {
  ref: ServiceAccountRef;
  until: number;
}

export class TokenCache {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly cfg: TokenCacheConfig = {}) {}

  get(token: string): ServiceAccountRef | undefined {
    const e = this.entries.get(token);
    if (!e) return undefined;
    if (e.until <= this.now()) {
      this.entries.delete(token);
      return undefined;
    }
    return e.ref;
  }

  /** @param expiresAtMs the token's `exp`, in ms */
  set(token: string, ref: ServiceAccountRef, expiresAtMs: number): void {
    const until = Math.min(expiresAtMs, this.now() + (this.cfg.ttlMs ?? 60_000));
    if (until <= this.now()) return;
    if (this.entries.size >= (this.cfg.maxEntries ?? 10_000)) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
    this.entries.set(token, { ref, until });
  }

  get size(): number {
    return this.entries.size;
  }

  private now(): number {
    return (this.cfg.clock ?? Date.now)();
  }
}
