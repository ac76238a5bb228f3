/**
 * Network namespaces for the end-to-end tests: a "switch" namespace holding a bridge, and
 * "pods" (and a control-plane namespace) each joined to it by a veth pair, on a private
 * 10.x subnet. Nothing touches the root namespace's interfaces or rules. Everything made
 * here is named with one prefix, so `cleanupNamespaces(prefix)` (also run by .ci/run) can
 * remove it even after a crash.
 */
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { missingOf, type Requirement } from '../../support/requires.js';

export const NS_PREFIX = 'lyt';

/** What the end-to-end tests need (.ci/run installs the tools when it runs as root). */
export const E2E_NEEDS: Requirement[] = ['root', 'netns', 'ip', 'iptables', 'tcpdump', 'curl', 'setpriv'];

/** Why the end-to-end tests cannot run here, or null (for scripts; tests use `requires`). */
export function canRunE2e(): string | null {
  return missingOf(E2E_NEEDS);
}

export function sh(args: string[], opts: { netns?: string; input?: string } = {}): string {
  const full = opts.netns ? ['ip', 'netns', 'exec', opts.netns, ...args] : args;
  return execFileSync(full[0], full.slice(1), { encoding: 'utf8', input: opts.input, stdio: ['pipe', 'pipe', 'pipe'] });
}

export interface Pod {
  name: string;
  netns: string;
  ip: string;
}

export class Topology {
  readonly switchNs: string;
  readonly bridge = 'lybr0';
  private readonly namespaces: string[] = [];
  private readonly children: ChildProcess[] = [];
  private n = 0;

  constructor(
    readonly prefix: string,
    readonly subnet = '10.77.0',
  ) {
    this.switchNs = `${prefix}-sw`;
  }

  /** Creates the switch namespace and its bridge. */
  create(): void {
    this.addNs(this.switchNs);
    sh(['ip', 'link', 'add', this.bridge, 'type', 'bridge'], { netns: this.switchNs });
    sh(['ip', 'link', 'set', this.bridge, 'up'], { netns: this.switchNs });
    sh(['ip', 'link', 'set', 'lo', 'up'], { netns: this.switchNs });
  }

  /** A namespace joined to the bridge with `<subnet>.<host>/24`. */
  pod(name: string, host: number): Pod {
    const netns = `${this.prefix}-${name}`;
    const ip = `${this.subnet}.${host}`;
    this.addNs(netns);
    const idx = this.n++;
    const inside = `veth${idx}p`;
    const outside = `veth${idx}s`;
    sh(['ip', 'link', 'add', inside, 'netns', netns, 'type', 'veth', 'peer', 'name', outside, 'netns', this.switchNs]);
    sh(['ip', 'link', 'set', outside, 'master', this.bridge], { netns: this.switchNs });
    sh(['ip', 'link', 'set', outside, 'up'], { netns: this.switchNs });
    sh(['ip', 'link', 'set', 'lo', 'up'], { netns });
    sh(['ip', 'addr', 'add', `${ip}/24`, 'dev', inside], { netns });
    sh(['ip', 'link', 'set', inside, 'up'], { netns });
    return { name, netns, ip };
  }

  /** Starts a long-running process inside a namespace (optionally as another uid). */
  spawn(netns: string, argv: string[], opts: SpawnOptions & { uid?: number } = {}): ChildProcess {
    const { uid, ...spawnOpts } = opts;
    // Drop privileges inside the namespace with setpriv: `ip netns exec` itself must run as root.
    const asUser = uid !== undefined ? ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--'] : [];
    const child = spawn('ip', ['netns', 'exec', netns, ...asUser, ...argv], { stdio: ['pipe', 'pipe', 'pipe'], ...spawnOpts });
    this.children.push(child);
    return child;
  }

  async destroy(): Promise<void> {
    await Promise.all(
      this.children.map(
        (c) =>
          new Promise<void>((resolve) => {
            if (c.exitCode !== null || c.signalCode !== null) return resolve();
            c.once('exit', () => resolve());
            c.kill('SIGTERM');
            setTimeout(() => c.kill('SIGKILL'), 3000).unref();
          }),
      ),
    );
    cleanupNamespaces(this.prefix);
  }

  private addNs(name: string): void {
    sh(['ip', 'netns', 'add', name]);
    this.namespaces.push(name);
  }
}

/** Deletes every namespace whose name starts with `prefix` (and so its veths, rules and processes' network). */
export function cleanupNamespaces(prefix: string): void {
  let list = '';
  try {
    list = sh(['ip', 'netns', 'list']);
  } catch {
    return;
  }
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0];
    if (!name || !name.startsWith(prefix)) continue;
    try {
      // Processes still inside would keep the namespace's network alive: kill them first.
      const pids = sh(['ip', 'netns', 'pids', name]).split('\n').filter(Boolean);
      for (const pid of pids) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      sh(['ip', 'netns', 'del', name]);
    } catch {
      // best effort; .ci/run sweeps again
    }
  }
}
