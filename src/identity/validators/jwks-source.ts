/**
 * Where a JWKS comes from: a file, or a URL such as the API server's `/openid/v1/jwks`.
 *
 * The key set is fetched once, kept, and fetched again when a token names a `kid` the set
 * does not hold (the cluster rotated its signing key), at most once per `cooldownMs` so a
 * stream of tokens with a bogus `kid` cannot turn into a stream of fetches.
 */
import { readFile } from 'node:fs/promises';
import { request } from 'node:https';
import { request as httpRequest } from 'node:http';
import type { JSONWebKeySet } from 'jose';

export type JwksLocation =
  | { file: string }
  | { url: string; /** PEM CA for https (e.g. the cluster CA). */ ca?: string; /** e.g. a bearer token file's content. */ bearerToken?: () => Promise<string | undefined> }
  | { keys: JSONWebKeySet };

export interface JwksSourceConfig {
  location: JwksLocation;
  /** Minimum time between refetches triggered by an unknown kid. Default 10s. */
  cooldownMs?: number;
  /** Fetch timeout. Default 5s. */
  timeoutMs?: number;
  clock?: () => number;
}

export class JwksSource {
  private keys: JSONWebKeySet | null = null;
  private lastFetch = -Infinity;
  private inflight: Promise<JSONWebKeySet> | null = null;

  constructor(private readonly cfg: JwksSourceConfig) {}

  /** The current key set, fetching it the first time. */
  async get(): Promise<JSONWebKeySet> {
    return this.keys ?? this.refresh(true);
  }

  /**
   * Fetches again unless the last fetch was within the cooldown; returns whether a new
   * set was loaded. Concurrent callers share one fetch.
   */
  async refreshForUnknownKid(): Promise<boolean> {
    const now = (this.cfg.clock ?? Date.now)();
    if (now - this.lastFetch < (this.cfg.cooldownMs ?? 10_000)) return false;
    await this.refresh(true);
    return true;
  }

  private refresh(force: boolean): Promise<JSONWebKeySet> {
    if (this.inflight) return this.inflight;
    if (!force && this.keys) return Promise.resolve(this.keys);
    this.lastFetch = (this.cfg.clock ?? Date.now)();
    this.inflight = this.fetch()
      .then((keys) => {
        this.keys = keys;
        return keys;
      })
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
      text = await fetchText(loc.url, this.cfg.timeoutMs ?? 5000, loc.ca, await loc.bearerToken?.());
    }
    const parsed = JSON.parse(text) as JSONWebKeySet;
    if (!parsed || !Array.isArray(parsed.keys)) throw new Error('JWKS has no "keys" array');
    return parsed;
  }
}

function fetchText(url: string, timeoutMs: number, ca?: string, bearer?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (bearer) headers.authorization = `Bearer ${bearer}`;
    const doRequest = u.protocol === 'http:' ? httpRequest : request;
    const req = doRequest(u, { method: 'GET', headers, ca, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`GET ${url}: HTTP ${res.statusCode}`));
        else resolve(body);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}
