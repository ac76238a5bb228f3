/**
 * Endpoints from a JSON (or YAML) file, for local runs and tests:
 *
 *   [{ "address": "10.0.0.2", "identity": "web.default.serviceaccount.identity.lanyard.cluster.local" },
 *    { "address": "10.0.0.3", "port": 5432, "identity": "db.data.serviceaccount.identity.lanyard.cluster.local" }]
 *
 * An address with no entry is unmeshed. The file reloads when it changes (the shared
 * reloader: watch and poll); a bad new file is refused, reported once, and the old entries kept.
 */
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { TrustDomain } from '../pki/names.js';
import type { Logger } from '../telemetry/logger.js';
import { WatchedFile } from '../util/watched-file.js';
import { normalizeAddress, type Endpoint, type EndpointChange, type EndpointSource } from './endpoint.js';

export interface StaticSourceConfig {
  file: string;
  trustDomain: TrustDomain;
  /** Default 2s. */
  pollIntervalMs?: number;
  logger: Logger;
}

interface Entry {
  identity: string;
  spiffeId: string;
  /** 0 = any port. */
  port: number;
}

type Entries = Map<string, Entry[]>;

export class StaticSource implements EndpointSource {
  readonly kind = 'static';
  private readonly watched: WatchedFile<string, Entries>;
  private readonly listeners = new Set<(change: EndpointChange) => void>();

  constructor(private readonly cfg: StaticSourceConfig) {
    this.watched = new WatchedFile({
      files: [cfg.file],
      read: () => readFile(cfg.file, 'utf8'),
      check: (text) => parseStaticEndpoints(text, cfg.file, cfg.trustDomain),
      name: cfg.file,
      pollIntervalMs: cfg.pollIntervalMs ?? 2_000,
      report: {
        loaded: (next, previous) => this.loaded(next, previous),
        failed: (f) => cfg.logger.error({ event: 'endpoints_rejected', file: cfg.file, reason: f.error.message }, 'static endpoints refused; keeping the previous ones'),
        recovered: (f) => cfg.logger.info({ event: 'endpoints_recovered', file: cfg.file, after: f.error.message }, 'the static endpoints file is good again'),
      },
      onListenerError: (e) => cfg.logger.warn({ event: 'endpoints_listener_failed', reason: (e as Error).message }, 'an endpoints listener threw'),
    });
  }

  /** Loads the file, then watches it. @throws Error naming the file when the first load fails */
  async start(): Promise<void> {
    await this.watched.start();
    if (this.watched.current()) return;
    const f = this.watched.lastFailure();
    await this.watched.close();
    const code = (f?.error as NodeJS.ErrnoException | undefined)?.code;
    throw new Error(f?.stage === 'check' ? f.error.message : `--static ${this.cfg.file}: ${code ?? f?.error.message ?? 'not loaded'}`);
  }

  stop(): Promise<void> {
    return this.watched.close();
  }

  ready(): boolean {
    return this.watched.current() !== undefined;
  }

  lookup(address: string, port: number): Endpoint | null {
    const list = this.watched.current()?.get(normalizeAddress(address));
    const e = list?.find((x) => x.port === port) ?? list?.find((x) => x.port === 0);
    if (!e) return null;
    return { address, port, meshed: true, identity: e.identity, spiffeId: e.spiffeId, source: 'static', workload: '' };
  }

  onChange(listener: (change: EndpointChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-reads the file now (after a pass in progress). */
  reload(): Promise<void> {
    return this.watched.reload();
  }

  private loaded(next: Entries, previous: Entries | undefined): void {
    if (!previous) {
      this.cfg.logger.info({ event: 'endpoints_loaded', file: this.cfg.file, addresses: next.size }, 'static endpoints loaded');
      this.emit('all'); // ready now: every waiting Watch gets its first answer
      return;
    }
    const changed = new Set<string>([...previous.keys(), ...next.keys()].filter((a) => JSON.stringify(previous.get(a)) !== JSON.stringify(next.get(a))));
    this.cfg.logger.info({ event: 'endpoints_loaded', file: this.cfg.file, addresses: next.size, changed: changed.size }, 'static endpoints reloaded');
    if (changed.size) this.emit(changed);
  }

  private emit(change: EndpointChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch (e) {
        this.cfg.logger.warn({ event: 'endpoints_listener_failed', reason: (e as Error).message }, 'an endpoints listener threw');
      }
    }
  }
}

export function parseStaticEndpoints(text: string, where: string, td: TrustDomain): Map<string, Entry[]> {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new Error(`${where}: not JSON or YAML: ${(e as Error).message}`);
  }
  if (!Array.isArray(doc)) throw new Error(`${where}: expected a list of {"address", "identity"} entries`);
  const out = new Map<string, Entry[]>();
  doc.forEach((raw, i) => {
    const at = `${where}[${i}]`;
    if (!raw || typeof raw !== 'object') throw new Error(`${at}: expected an object`);
    const r = raw as Record<string, unknown>;
    for (const k of Object.keys(r)) if (!['address', 'identity', 'port'].includes(k)) throw new Error(`${at}: unknown key "${k}"`);
    if (typeof r.address !== 'string' || !isIP(r.address)) throw new Error(`${at}.address: expected an IP address, got ${JSON.stringify(r.address)}`);
    if (typeof r.identity !== 'string') throw new Error(`${at}.identity: required`);
    const ref = td.parse(r.identity);
    if (!ref) throw new Error(`${at}.identity: ${JSON.stringify(r.identity)} is not a workload identity of trust domain ${td.domain}`);
    const port = r.port === undefined ? 0 : Number(r.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`${at}.port: expected a port number`);
    const key = normalizeAddress(r.address);
    const list = out.get(key) ?? [];
    if (list.some((e) => e.port === port)) throw new Error(`${at}: duplicate entry for ${r.address}${port ? `:${port}` : ''}`);
    list.push({ identity: r.identity, spiffeId: td.spiffeId(ref), port });
    out.set(key, list);
  });
  return out;
}

