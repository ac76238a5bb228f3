/**
 * The thin part that touches the system: runs iptables and its save tool with execFile
 * (an argument vector, never a shell string, so no value is ever interpreted by a shell),
 * optionally inside `ip netns exec NAME`, and maps failures to ProxyInitError.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { missingBinaryError } from './backend.js';
import { notPermittedMessage, type CapabilityName } from './capabilities.js';
import { ProxyInitError } from './init-error.js';

export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Runs argv[0] with the rest as arguments; rejects with an Error carrying `code` and `stderr`. */
export type ExecFn = (argv: string[]) => Promise<CommandResult>;

export interface IptablesExecutorConfig {
  /** Run everything in this network namespace via `ip netns exec`. Default: the current one. */
  netns: string | null;
  /** Directories searched for binaries. Default: $PATH. */
  path?: string;
  /** The process runner; tests substitute one. Default: child_process.execFile. */
  exec?: ExecFn;
  /** Per-command deadline. Default 30s. */
  timeoutMs?: number;
}

const defaultExec =
  (timeoutMs: number): ExecFn =>
  (argv) =>
    new Promise((resolve, reject) => {
      execFile(argv[0], argv.slice(1), { timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) reject(Object.assign(err, { stderr: String(stderr) }));
        else resolve({ stdout: String(stdout), stderr: String(stderr) });
      });
    });

/** Quotes a word for display so a printed command can be pasted into a shell. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:,=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

export class IptablesExecutor {
  private readonly netns: string | null;
  private readonly path: string;
  private readonly exec: ExecFn;

  constructor(cfg: IptablesExecutorConfig) {
    this.netns = cfg.netns;
    this.path = cfg.path ?? process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin';
    this.exec = cfg.exec ?? defaultExec(cfg.timeoutMs ?? 30_000);
  }

  /** The full argument vector that runs `binary args...`, in the namespace if one is set. */
  argv(binary: string, args: readonly string[]): string[] {
    return this.netns === null ? [binary, ...args] : ['ip', 'netns', 'exec', this.netns, binary, ...args];
  }

  /** The command as one printable line (what --dry-run shows). */
  format(binary: string, args: readonly string[]): string {
    return this.argv(binary, args).map(shellQuote).join(' ');
  }

  /** Whether `binary` is an executable file on the search path. */
  installed(binary: string): boolean {
    for (const dir of this.path.split(delimiter)) {
      if (!dir) continue;
      try {
        accessSync(join(dir, binary), constants.X_OK);
        return true;
      } catch {
        // not in this directory
      }
    }
    return false;
  }

  /** Runs the command; a missing binary or a refusal by the kernel becomes a precise error. */
  async run(binary: string, args: readonly string[]): Promise<CommandResult> {
    if (this.netns !== null && !this.installed('ip')) throw missingBinaryError('ip');
    if (!this.installed(binary)) throw missingBinaryError(binary);
    try {
      return await this.exec(this.argv(binary, args));
    } catch (e) {
      throw this.explain(binary, args, e as Error & { code?: unknown; stderr?: string });
    }
  }

  /** Runs the command and returns its stdout, or null if it failed for any reason. */
  async tryRun(binary: string, args: readonly string[]): Promise<string | null> {
    try {
      return (await this.run(binary, args)).stdout;
    } catch {
      return null;
    }
  }

  private explain(binary: string, args: readonly string[], e: Error & { code?: unknown; stderr?: string }): ProxyInitError {
    if (e.code === 'ENOENT') return missingBinaryError(this.netns === null ? binary : 'ip');
    const stderr = (e.stderr ?? '').trim();
    if (/permission denied|operation not permitted|you must be root/i.test(stderr)) {
      const caps: CapabilityName[] = ['CAP_NET_ADMIN'];
      if (binary.includes('legacy')) caps.push('CAP_NET_RAW');
      if (this.netns !== null) caps.push('CAP_SYS_ADMIN');
      return new ProxyInitError('ERR_INIT_NOT_PERMITTED', `${this.format(binary, args)}: ${notPermittedMessage(caps, 'needs capability')}; the command said: ${stderr}`);
    }
    const why = stderr || e.message;
    return new ProxyInitError('ERR_INIT_COMMAND_FAILED', `${this.format(binary, args)} failed: ${why}`);
  }
}
