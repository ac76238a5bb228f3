/**
 * Holds the proxy's current PeerPolicy and keeps it in step with the policy file.
 *
 * The file is loaded at start (a bad file throws: the proxy refuses to start rather than run
 * with a policy nobody wrote). After that it is re-read on a filesystem event in the file's
 * directory **and** on a poll comparing content hashes: an atomic rename, or a ConfigMap
 * volume's `..data` symlink swap, which some watchers never report, is never missed. A bad
 * new file is refused, logged (`policy_rejected`) and counted, and the last good policy
 * stays in force; a good one replaces it in one assignment, so a connection is always
 * judged by one complete policy, old or new.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../../src/telemetry/logger.js';
import { Counter, type Registry } from '../../src/telemetry/metrics.js';
import { PeerPolicy } from './peer-policy.js';
import { PolicyError } from './policy-error.js';
import { applyOverrides, type PolicyOverrides } from './policy-env.js';
import { parsePolicy } from './validate-policy.js';

export interface PolicyStoreConfig {
  /** The policy file, YAML or JSON. Default: none; the policy is the overrides' alone and never reloads. */
  file?: string;
  /** The environment's layers (policyOverridesFromEnv), applied over every load. Default: none. */
  overrides?: PolicyOverrides;
  /** Poll period. Default 5s. */
  pollIntervalMs?: number;
  /** Quiet time after a filesystem event before re-reading, so a burst is one read. Default 50ms. */
  debounceMs?: number;
  logger: Logger;
  /** Where `lanyard_proxy_policy_reloads_total{result}` is registered. Default: not counted. */
  registry?: Registry;
}

export type PolicyListener = (policy: PeerPolicy) => void;

export class PolicyStore {
  private policy: PeerPolicy | null = null;
  private loadedDigest = '';
  private failedDigest = '';
  private watcher: FSWatcher | null = null;
  private poll: NodeJS.Timeout | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private reloading: Promise<void> | null = null;
  private pending = false;
  private stopped = false;
  private readonly reloads?: Counter<'result'>;
  private readonly listeners = new Set<PolicyListener>();

  constructor(private readonly cfg: PolicyStoreConfig) {
    if (cfg.registry) {
      this.reloads = new Counter({
        name: 'lanyard_proxy_policy_reloads_total',
        help: 'Policy loads that found a changed file, by result (success, failure).',
        labelNames: ['result'],
        registers: [cfg.registry],
      });
    }
  }

  /**
   * Loads the policy, then watches and polls the file.
   * @throws PolicyError naming the file and the path inside it when the file is missing or bad
   */
  async start(): Promise<void> {
    const file = this.cfg.file;
    if (file === undefined) {
      const policy = new PeerPolicy(applyOverrides(undefined, this.cfg.overrides ?? {}));
      this.install(policy, sha256(JSON.stringify(policy.config)));
      return;
    }
    const text = await this.read(file).catch((e: PolicyError) => this.reject(`read:${e.message}`, e));
    const digest = sha256(text);
    let policy: PeerPolicy;
    try {
      policy = this.build(text);
    } catch (e) {
      this.reject(digest, e);
    }
    this.loadedDigest = digest;
    this.install(policy, digest);
    this.watchDirectory(dirname(file));
    this.poll = setInterval(() => void this.reload(), this.cfg.pollIntervalMs ?? 5_000);
    this.poll.unref();
  }

  stop(): void {
    this.stopped = true;
    this.watcher?.close();
    if (this.poll) clearInterval(this.poll);
    if (this.debounce) clearTimeout(this.debounce);
    this.watcher = this.poll = this.debounce = null;
  }

  /** The policy in force. */
  current(): PeerPolicy {
    if (!this.policy) throw new Error('PolicyStore.current() called before start() resolved');
    return this.policy;
  }

  /** Called with each new policy after it is in force (not with the current one). Returns an unsubscribe. */
  onChange(listener: PolicyListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-reads the file now; concurrent calls coalesce into at most one extra pass. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.pending = true;
      return this.reloading;
    }
    this.reloading = this.reloadOnce().finally(() => {
      this.reloading = null;
      if (this.pending && !this.stopped) {
        this.pending = false;
        void this.reload();
      }
    });
    return this.reloading;
  }

  private async reloadOnce(): Promise<void> {
    const file = this.cfg.file;
    if (file === undefined || this.stopped) return;
    let text: string;
    try {
      text = await this.read(file);
    } catch (e) {
      return this.refuse(`read:${(e as Error).message}`, e);
    }
    const digest = sha256(text);
    if (digest === this.loadedDigest) {
      this.failedDigest = ''; // back to the good file: a later bad write is news again
      return;
    }
    if (digest === this.failedDigest) return; // the same bad file: already reported
    try {
      const policy = this.build(text);
      this.loadedDigest = digest;
      this.failedDigest = '';
      this.install(policy, digest);
    } catch (e) {
      this.refuse(digest, e);
    }
  }

  private build(text: string): PeerPolicy {
    try {
      return new PeerPolicy(applyOverrides(parsePolicy(text), this.cfg.overrides ?? {}));
    } catch (e) {
      throw e instanceof PolicyError ? e.from(`policy file ${this.cfg.file}`) : e;
    }
  }

  private install(policy: PeerPolicy, digest: string): void {
    const previous = this.policy;
    this.policy = policy;
    this.reloads?.inc({ result: 'success' });
    this.cfg.logger.info(
      { event: 'policy_loaded', file: this.cfg.file ?? null, digest: digest.slice(0, 16), ...policy.summary(), replaced: previous !== null },
      previous ? 'policy reloaded' : 'policy loaded',
    );
    for (const l of this.listeners) {
      try {
        l(policy);
      } catch (e) {
        this.cfg.logger.warn({ event: 'policy_listener_failed', reason: (e as Error).message }, 'a policy listener threw');
      }
    }
  }

  /** Logs and counts a refused file; the current policy stays. */
  private refuse(digest: string, e: unknown): void {
    this.failedDigest = digest;
    this.reloads?.inc({ result: 'failure' });
    this.cfg.logger.error(
      { event: 'policy_rejected', file: this.cfg.file, reason: (e as Error).message, keeping: this.loadedDigest.slice(0, 16) || null },
      this.policy ? 'new policy refused; the previous policy stays in force' : 'policy refused; the proxy cannot start',
    );
  }

  /** `refuse`, then throw: at start there is no previous policy to keep. */
  private reject(digest: string, e: unknown): never {
    this.refuse(digest, e);
    throw e;
  }

  /** Reads, retrying briefly when the file vanished under us (the old side of a symlink swap). */
  private async read(file: string): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await readFile(file, 'utf8');
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (err.code !== 'ENOENT' || attempt >= 2) throw new PolicyError('ERR_POLICY_READ', '', `cannot read (${err.message})`, `policy file ${file}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }

  private watchDirectory(dir: string): void {
    try {
      // The directory, not the file: a rename or `..data` swap replaces the file's inode,
      // and a watch on the old inode would go quiet.
      const w = watch(dir, { persistent: false }, () => this.scheduleReload());
      w.on('error', () => w.close()); // the directory went away; the poll carries on
      this.watcher = w;
    } catch (e) {
      this.cfg.logger.warn({ dir, reason: (e as Error).message }, 'cannot watch the policy directory; relying on polling');
    }
  }

  private scheduleReload(): void {
    if (this.stopped) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      void this.reload();
    }, this.cfg.debounceMs ?? 50);
    this.debounce.unref();
  }
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
