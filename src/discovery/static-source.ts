/**
 * Endpoints from a JSON (or YAML) file, for local runs and tests:
 *
 *   [{ "address": "10.0.0.2", "identity": "web.default.serviceaccount.identity.lanyard.cluster.local" },
 *    { "address": "10.0.0.3", "port": 5432, "identity": "db.data.serviceaccount.identity.lanyard.cluster.local" }]
 *
 * An address with no entry is unmeshed. The file reloads when it changes (watch and poll);
 * a bad new file is refused and the old entries kept.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isIP } from 'node:net';
import { parse as parseYaml } from 'yaml';
import type { TrustDomain } from '../pki/names.js';
import type { Logger } from '../telemetry/logger.js';
import { normalizeAddress, type Endpoint, type EndpointSource } from './endpoint.js';

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

export class StaticSource implements EndpointSource {
  readonly kind = 'static';
  private entries = new Map<string, Entry[]>();
  private digest = '';
  private failedDigest = '';
  private loaded = false;
  private watcher: FSWatcher | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly listeners = new Set<(a: Set<string>) => void>();

  constructor(private readonly cfg: StaticSourceConfig) {}

  async start(): Promise<void> {
    const text = await readFile(this.cfg.file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      throw new Error(`--static ${this.cfg.file}: ${e.code ?? e.message}`);
    });
    this.entries = parseStaticEndpoints(text, this.cfg.file, this.cfg.trustDomain);
    this.digest = hash(text);
    this.loaded = true;
    try {
      this.watcher = watch(dirname(this.cfg.file), { persistent: false }, () => void this.reload());
      this.watcher.on('error', () => this.watcher?.close());
    } catch {
      // the poll below still sees every change
    }
    this.timer = setInterval(() => void this.reload(), this.cfg.pollIntervalMs ?? 2000);
    this.timer.unref();
  }

  stop(): void {
    this.watcher?.close();
    if (this.timer) clearInterval(this.timer);
  }

  ready(): boolean {
    return this.loaded;
  }

  lookup(address: string, port: number): Endpoint | null {
    const list = this.entries.get(normalizeAddress(address));
    const e = list?.find((x) => x.port === port) ?? list?.find((x) => x.port === 0);
    if (!e) return null;
    return { address, port, meshed: true, identity: e.identity, spiffeId: e.spiffeId, source: 'static', workload: '' };
  }

  onChange(listener: (a: Set<string>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async reload(): Promise<void> {
    const text = await readFile(this.cfg.file, 'utf8').catch(() => null);
    if (text === null) return;
    const d = hash(text);
    if (d === this.digest || d === this.failedDigest) return;
    let next: Map<string, Entry[]>;
    try {
      next = parseStaticEndpoints(text, this.cfg.file, this.cfg.trustDomain);
    } catch (e) {
      this.failedDigest = d;
      this.cfg.logger.error({ event: 'endpoints_rejected', file: this.cfg.file, reason: (e as Error).message }, 'static endpoints refused; keeping the previous ones');
      return;
    }
    const changed = new Set<string>([...this.entries.keys(), ...next.keys()].filter((a) => JSON.stringify(this.entries.get(a)) !== JSON.stringify(next.get(a))));
    this.entries = next;
    this.digest = d;
    this.cfg.logger.info({ event: 'endpoints_loaded', file: this.cfg.file, addresses: next.size, changed: changed.size }, 'static endpoints reloaded');
    if (changed.size) for (const l of this.listeners) l(changed);
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

const hash = (s: string) => createHash('sha256').update(s).digest('hex');
