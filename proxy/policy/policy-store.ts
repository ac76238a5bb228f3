/**
 * Holds the proxy's current PeerPolicy and keeps it in step with the policy file.
 *
 * The file is loaded at start (a bad file throws: the proxy refuses to start rather than run
 * with a policy nobody wrote). After that the shared reloader (src/util/watched-file.ts)
 * re-reads it on a filesystem event on the file or its directory **and** on a stat poll: an
 * atomic rename, or a ConfigMap volume's `..data` symlink swap, is never missed. A bad new
 * file is refused, logged once (`policy_rejected`) and counted, and the last good policy
 * stays in force; a good one replaces it in one assignment, so a connection is always
 * judged by one complete policy, old or new.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Logger } from '../../src/telemetry/logger.js';
import { Counter, type Registry } from '../../src/telemetry/metrics.js';
import { WatchedFile, type WatchedFileFailure } from '../../src/util/watched-file.js';
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
  /** Set once start() resolved: the overrides' policy, or the file's through `file`. */
  private fixed: PeerPolicy | null = null;
  private readonly file: WatchedFile<string, PeerPolicy> | null;
  private loadedDigest = '';
  private readonly reloads?: Counter<'result'>;
  private readonly listeners = new Set<PolicyListener>();

  constructor(private readonly cfg: PolicyStoreConfig) {
    if (cfg.registry) {
      this.reloads = new Counter({
        name: 'lanyard_proxy_policy_reloads_total',
        help: 'Policy loads that found a changed file, by result: success, or failure (each distinct failure counted once).',
        labelNames: ['result'],
        registers: [cfg.registry],
      });
    }
    const file = cfg.file;
    this.file =
      file === undefined
        ? null
        : new WatchedFile({
            files: [file],
            read: () => readFile(file, 'utf8').catch((e: Error) => Promise.reject(new PolicyError('ERR_POLICY_READ', '', `cannot read (${e.message})`, `policy file ${file}`))),
            check: (text) => this.build(text),
            name: `policy file ${file}`,
            pollIntervalMs: cfg.pollIntervalMs ?? 5_000,
            debounceMs: cfg.debounceMs,
            report: {
              loaded: (policy, previous, digest) => this.installed(policy, previous !== undefined, digest),
              failed: (f) => this.refused(f),
              recovered: (f) => this.cfg.logger.info({ event: 'policy_recovered', file, after: f.error.message }, 'the policy file is good again'),
            },
            onListenerError: (e) => this.listenerFailed(e),
          });
  }

  /**
   * Loads the policy, then watches and polls the file.
   * @throws PolicyError naming the file and the path inside it when the file is missing or bad
   */
  async start(): Promise<void> {
    if (!this.file) {
      const policy = new PeerPolicy(applyOverrides(undefined, this.cfg.overrides ?? {}));
      this.installed(policy, false, '');
      this.fixed = policy;
      return;
    }
    await this.file.start();
    const failure = this.file.lastFailure();
    if (!this.file.current()) {
      await this.file.close();
      throw policyError(failure, this.cfg.file!);
    }
    this.file.subscribe((p) => this.notify(p), { replay: false });
  }

  stop(): void {
    void this.file?.close();
  }

  /** The policy in force. */
  current(): PeerPolicy {
    const policy = this.fixed ?? this.file?.current();
    if (!policy) throw new Error('PolicyStore.current() called before start() resolved');
    return policy;
  }

  /** Called with each new policy after it is in force (not with the current one). Returns an unsubscribe. */
  onChange(listener: PolicyListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-reads the file now (after a pass in progress); resolves once it is judged. */
  reload(): Promise<void> {
    return this.file?.reload() ?? Promise.resolve();
  }

  private build(text: string): PeerPolicy {
    try {
      return new PeerPolicy(applyOverrides(parsePolicy(text), this.cfg.overrides ?? {}));
    } catch (e) {
      throw e instanceof PolicyError ? e.from(`policy file ${this.cfg.file}`) : e;
    }
  }

  private installed(policy: PeerPolicy, replaced: boolean, digest: string): void {
    this.loadedDigest = digest;
    this.reloads?.inc({ result: 'success' });
    const shown = digest ? digest.slice(0, 16) : sha256Of(policy);
    this.cfg.logger.info(
      { event: 'policy_loaded', file: this.cfg.file ?? null, digest: shown, ...policy.summary(), replaced },
      replaced ? 'policy reloaded' : 'policy loaded',
    );
  }

  private notify(policy: PeerPolicy): void {
    for (const l of this.listeners) {
      try {
        l(policy);
      } catch (e) {
        this.listenerFailed(e);
      }
    }
  }

  private listenerFailed(e: unknown): void {
    this.cfg.logger.warn({ event: 'policy_listener_failed', reason: (e as Error).message }, 'a policy listener threw');
  }

  /** Logs and counts a refused file, once per distinct failure; the current policy stays. */
  private refused(f: WatchedFileFailure): void {
    const keeping = this.file?.current() !== undefined;
    this.reloads?.inc({ result: 'failure' });
    this.cfg.logger.error(
      { event: 'policy_rejected', file: this.cfg.file, reason: policyError(f, this.cfg.file!).message, keeping: keeping ? this.loadedDigest.slice(0, 16) : null },
      keeping ? 'new policy refused; the previous policy stays in force' : 'policy refused; the proxy cannot start',
    );
  }
}

/** The failure as a PolicyError (an empty file is reported by the reloader itself). */
function policyError(f: WatchedFileFailure | null, file: string): PolicyError {
  if (f?.error instanceof PolicyError) return f.error;
  if (f?.stage === 'empty') return new PolicyError('ERR_POLICY_READ', '', 'the file is empty', `policy file ${file}`);
  return new PolicyError('ERR_POLICY_READ', '', `cannot read (${f?.error.message ?? 'not loaded'})`, `policy file ${file}`);
}

function sha256Of(policy: PeerPolicy): string {
  return createHash('sha256').update(JSON.stringify(policy.config)).digest('hex').slice(0, 16);
}
