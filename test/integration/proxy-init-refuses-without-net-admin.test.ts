/**
 * Without CAP_NET_ADMIN (a non-root user, or root in a container that was not granted
 * NET_ADMIN) `lanyard proxy-init` stops before touching anything and names the missing
 * capability and the pod-spec fix, instead of relaying iptables' "you must be root".
 */
import { spawnSync } from 'node:child_process';
import { CLI, ROOT } from '../support/cli.js';
import { NetnsSet, natTable, setUp } from './proxy-init-support.js';

const SCENARIO = 'proxy-init-refuses-without-net-admin';
const spaces = new NetnsSet();
afterAll(() => spaces.deleteAll());

const hasSetpriv = spawnSync('sh', ['-c', 'command -v setpriv']).status === 0;

/** Runs the CLI with CAP_NET_ADMIN dropped from the bounding set (root keeps everything else). */
function withoutNetAdmin(args: string[]) {
  const argv = ['--bounding-set=-net_admin', '--inh-caps=-net_admin', process.execPath, CLI, ...args];
  const r = spawnSync('setpriv', argv, { cwd: ROOT, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

test('root without NET_ADMIN is refused with the capability named, and nothing changes', () => {
  if (process.getuid?.() !== 0) {
    // Not root: the test process itself lacks the capability, which is the same case.
    const r = spawnSync(process.execPath, [CLI, 'proxy-init'], { cwd: ROOT, timeout: 30_000 });
    expect(r.status).toBe(1);
    expect(r.stderr.toString()).toMatch(/^lanyard: not permitted: missing capability CAP_NET_ADMIN \(run as root, or add "NET_ADMIN"/);
    return;
  }
  if (!hasSetpriv) {
    console.warn(`${SCENARIO}: not run: setpriv not found`);
    return;
  }
  const made = setUp(spaces, SCENARIO, ['perm']);
  if (!made) return;
  const [ns] = made;
  const before = natTable(ns);
  // In a namespace, `ip netns exec` needs CAP_SYS_ADMIN too; root still has it here.
  const r = withoutNetAdmin(['proxy-init', '--netns', ns]);
  expect(r.code).toBe(1);
  expect(r.stderr).toBe(
    'lanyard: not permitted: missing capability CAP_NET_ADMIN (run as root, or add "NET_ADMIN" to the init container\'s securityContext.capabilities.add)\n',
  );
  expect(r.stdout).toBe('');
  expect(natTable(ns)).toBe(before);
  // A dry run still shows what a first run would do.
  const dry = withoutNetAdmin(['proxy-init', '--netns', ns, '--dry-run']);
  expect(dry.code).toBe(0);
  expect(dry.stderr).toMatch(/dry run without CAP_NET_ADMIN/);
  expect(dry.stdout).toMatch(/-t nat -N LANYARD_OUTPUT\n/);
});
