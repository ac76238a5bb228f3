/**
 * Without CAP_NET_ADMIN (a non-root user, or root in a container that was not granted
 * NET_ADMIN) `lanyard proxy-init` stops before touching anything and names the missing
 * capability and the pod-spec fix, instead of relaying iptables' "you must be root".
 */
import { spawnSync } from 'node:child_process';
import { CLI, ROOT } from '../support/cli.js';
import { requires } from '../support/requires.js';
import { NetnsSet, needsNetns, natTable, setUp } from './proxy-init-support.js';

const spaces = new NetnsSet();
afterAll(() => spaces.deleteAll());

const root = process.getuid?.() === 0;

/** Runs the CLI with CAP_NET_ADMIN dropped from the bounding set (root keeps everything else). */
function withoutNetAdmin(args: string[]) {
  const argv = ['--bounding-set=-net_admin', '--inh-caps=-net_admin', process.execPath, CLI, ...args];
  const r = spawnSync('setpriv', argv, { cwd: ROOT, timeout: 30_000 });
  return { code: r.status, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

// As root, drop to nobody for this one; as any other user, the test process itself lacks the capability.
requires(...(root ? ['setpriv'] : [])).test('a user without NET_ADMIN is refused with the capability named', () => {
  const asNobody = root ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] : [];
  const argv = [...asNobody, process.execPath, CLI, 'proxy-init'];
  const r = spawnSync(argv[0], argv.slice(1), { cwd: ROOT, timeout: 30_000 });
  expect(r.status).toBe(1);
  expect(r.stdout.toString()).toBe('');
  expect(r.stderr.toString()).toMatch(/^lanyard: not permitted: missing capability CAP_NET_ADMIN \(run as root, or add "NET_ADMIN"/);
});

needsNetns('setpriv').test('root without NET_ADMIN is refused with the capability named, and nothing changes', () => {
  const [ns] = setUp(spaces, ['perm']);
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
