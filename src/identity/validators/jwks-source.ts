/**
 * Where a JWKS comes from: a file, or a URL such as the API server's `/openid/v1/jwks`.
 *
 * The key set is kept for at most `maxAgeMs`, so a key the cluster removed (rotated away,
 * or revoked after a leak) stops verifying within that age; it is refreshed in the
 * background from 80% of that age so that requests rarely wait on a fetch. Past the age, a
 * set that cannot be refreshed is not used: tokens are answered UNAVAILABLE rather than
 * verified against keys that may be gone. A token naming a `kid` the set does not hold
 * (the cluster rotated its signing key) triggers a fetch too, at most once per
 * `cooldownMs`, so a stream of tokens with a bogus `kid` cannot become a stream of fetches;
 * after a failed fetch, requests within the cooldown fail at once instead of queueing.
 *
 * Why not jose's createRemoteJWKSet: it reads Date.now() (no injectable clock, so the age
 * cannot be tested without sleeping), its fetch goes through global fetch, which cannot
 * take the cluster CA without a dispatcher from the undici package (not a dependency), and a
 * customFetch would be this file's https request anyway; files need the same caching.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { JSONWebKeySet } from 'jose';
import { timerDelay } from '../../util/duration.js';

export type JwksLocation =
  | { file: string }
  | { url: string; /** PEM CA for https (e.g. the cluster CA). */ ca?: string; /** Read before each fetch, e.g. a projected token file. */ bearerToken?: () => Promise<string | undefined> }
  | { keys: JSONWebKeySet };

export interface JwksSourceConfig {
  location: JwksLocation;
  /** Longest time a key set is used without being fetched again. Default 10 minutes. */
  maxAgeMs?: number;
  /** Minimum time between fetches for an unknown kid, and between retries after a failure. Default 10s. */
  cooldownMs?: number;
  /** Total deadline of one fetch: connection, TLS, headers and the whole body. Default 5s. */
  timeoutMs?: number;
  /** Largest JWKS accepted, in bytes. Default 1 MiB. */
  maxBytes?: number;
  clock?: () => number;
}

export const DEFAULT_JWKS_MAX_AGE_MS = 600_000;

export class JwksSource {
  private keys: JSONWebKeySet | null = null;
  private fetchedAt = -Infinity;
  private lastAttempt = -Infinity;
  private lastError: Error | null = null;
  private inflight: Promise<JSONWebKeySet> | null = null;

  constructor(private readonly cfg: JwksSourceConfig) {
    const maxAge = cfg.maxAgeMs ?? DEFAULT_JWKS_MAX_AGE_MS;
    if (!(maxAge > 0)) throw new Error(`JWKS max age must be positive, got ${maxAge} ms`);
  }

  /** The current key set: fetched the first time, and again once it is too old. */
  async get(): Promise<JSONWebKeySet> {
    if ('keys' in this.cfg.location) return this.cfg.location.keys;
    const now = this.now();
    const age = now - this.fetchedAt;
    const maxAge = this.cfg.maxAgeMs ?? DEFAULT_JWKS_MAX_AGE_MS;
    if (this.keys && age < maxAge) {
      if (age >= maxAge * 0.8 && !this.inflight && !this.coolingDown(now)) this.refresh().catch(() => undefined);
      return this.keys;
    }
    if (this.lastError && this.coolingDown(now) && !this.inflight) throw this.lastError;
    return this.refresh();
  }

  /**
   * Fetches again unless the last attempt was within the cooldown; returns whether a new
   * set was loaded. Concurrent callers share one fetch.
   */
  async refreshForUnknownKid(): Promise<boolean> {
    if ('keys' in this.cfg.location) return false;
    if (this.coolingDown(this.now()) && !this.inflight) return false;
    await this.refresh();
    return true;
  }

  private coolingDown(now: number): boolean {
    return now - this.lastAttempt < (this.cfg.cooldownMs ?? 10_000);
  }

  private now(): number {
    return (this.cfg.clock ?? Date.now)();
  }

  private refresh(): Promise<JSONWebKeySet> {
    if (this.inflight) return this.inflight;
    // The age counts from the start of the fetch: the set is at least that fresh.
    const started = this.now();
    this.lastAttempt = started;
    this.inflight = this.fetch()
      .then(
        (keys) => {
          this.keys = keys;
          this.fetchedAt = started;
          this.lastError = null;
          return keys;
        },
        (e: unknown) => {
          this.lastError = e instanceof Error ? e : new Error(String(e));
          throw this.lastError;
        },
      )
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  private async fetch(): Promise<JSONWebKeySet> {
    const loc = this.cfg.location;
    let text: string;
    if ('keys' in loc) return loc.keys;
    if ('file' in loc) {
      text = await readFile(loc.file, 'utf8');
    } else {
      text = await fetchText(loc.url, this.cfg.timeoutMs ?? 5000, this.cfg.maxBytes ?? 1 << 20, loc.ca, await loc.bearerToken?.());
    }
    const parsed = JSON.parse(text) as JSONWebKeySet;
    if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.keys)) throw new Error('JWKS has no "keys" array');
    return parsed;
  }
}

/**
 * GET `url` and return the body of a 200 answer. `deadlineMs` bounds the whole exchange: a
 * server that trickles a byte a second never trips an idle timeout, so the idle timeout
 * alone is not a bound. On expiry the request is destroyed.
 */
function fetchText(url: string, deadlineMs: number, maxBytes: number, ca?: string, bearer?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = { accept: 'application/json, application/jwk-set+json' };
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    const doRequest = u.protocol === 'http:' ? httpRequest : request;
    let settled = false;
    const settle = (err: Error | null, body?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else resolve(body!);
    };
    const req = doRequest(u, { method: 'GET', headers, ca, timeout: deadlineMs }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        settle(new Error(`GET ${url}: HTTP ${res.statusCode}, expected 200`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > maxBytes) settle(new Error(`GET ${url}: the JWKS is larger than ${maxBytes} bytes`));
        else chunks.push(c);
      });
      res.on('end', () => settle(null, Buffer.concat(chunks).toString('utf8')));
      res.on('error', (e) => settle(e));
    });
    const timer = setTimeout(() => settle(new Error(`GET ${url}: no complete answer within ${deadlineMs} ms`)), timerDelay(deadlineMs));
    req.on('timeout', () => settle(new Error(`GET ${url}: idle for ${deadlineMs} ms`)));
    req.on('error', (e) => settle(e));
    req.end();
  });
}
