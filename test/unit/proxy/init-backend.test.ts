/**
 * Choosing between iptables-nft and iptables-legacy, and the capability check.
 */
import { BACKENDS, countRules, selectBackend, type BackendName, type BackendProbe, type BackendProbes } from '../../../proxy/init/backend.js';
import { effectiveCapabilities, missingCapabilities, notPermittedMessage } from '../../../proxy/init/capabilities.js';
import type { IptablesMode } from '../../../proxy/init/init-config.js';
import { ProxyInitError } from '../../../proxy/init/init-error.js';

const absent: BackendProbe = { installed: false, readable: false, rules: 0, hasLanyard: false };
const empty: BackendProbe = { installed: true, readable: true, rules: 0, hasLanyard: false };
const unreadable: BackendProbe = { installed: true, readable: false, rules: 0, hasLanyard: false };
const busy = (rules: number, hasLanyard = false): BackendProbe => ({ installed: true, readable: true, rules, hasLanyard });
const probes = (nft: BackendProbe, legacy: BackendProbe, defaultInstalled = true): BackendProbes => ({ nft, legacy, defaultInstalled });

describe('selectBackend', () => {
  test.each<[string, IptablesMode, BackendProbes, BackendName]>([
    ['ok/auto-both-empty-prefers-nft', 'auto', probes(empty, empty), 'nft'],
    ['ok/auto-follows-lanyard-chains-to-legacy', 'auto', probes(busy(40), busy(11, true)), 'legacy'],
    ['ok/auto-follows-lanyard-chains-to-nft', 'auto', probes(busy(11, true), busy(40)), 'nft'],
    ['ok/auto-follows-more-rules-legacy', 'auto', probes(busy(0), busy(3)), 'legacy'],
    ['ok/auto-follows-more-rules-nft', 'auto', probes(busy(5), busy(3)), 'nft'],
    ['ok/auto-nft-unreadable-means-old-kernel', 'auto', probes(unreadable, empty), 'legacy'],
    ['ok/auto-neither-readable-prefers-nft', 'auto', probes(unreadable, unreadable), 'nft'],
    ['ok/auto-only-nft-installed', 'auto', probes(empty, absent), 'nft'],
    ['ok/auto-only-legacy-installed', 'auto', probes(absent, busy(0)), 'legacy'],
    ['ok/auto-plain-iptables-only', 'auto', probes(absent, absent, true), 'default'],
    ['ok/nft-forced-even-if-legacy-busy', 'nft', probes(empty, busy(50, true)), 'nft'],
    ['ok/legacy-forced', 'legacy', probes(busy(50, true), empty), 'legacy'],
  ])('%s', (_name, mode, p, want) => {
    expect(selectBackend(mode, p).name).toBe(want);
  });

  test.each<[string, IptablesMode, BackendProbes, string]>([
    ['fail/auto-nothing-installed', 'auto', probes(absent, absent, false), 'iptables not found on PATH: install the package `iptables`'],
    ['fail/nft-not-installed', 'nft', probes(absent, empty), 'iptables-nft not found on PATH: install the package `iptables`'],
    ['fail/legacy-not-installed', 'legacy', probes(empty, absent), 'iptables-legacy not found on PATH: install the package `iptables`'],
  ])('%s', (_name, mode, p, message) => {
    let err: unknown;
    try {
      selectBackend(mode, p);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ProxyInitError);
    expect((err as ProxyInitError).code).toBe('ERR_INIT_MISSING_BINARY');
    expect((err as Error).message).toContain(message);
  });

  test('ok/binary-names', () => {
    expect(BACKENDS.nft).toMatchObject({ iptables: 'iptables-nft', iptablesSave: 'iptables-nft-save', ip6tables: 'ip6tables-nft', ip6tablesSave: 'ip6tables-nft-save' });
    expect(BACKENDS.legacy).toMatchObject({ iptables: 'iptables-legacy', iptablesSave: 'iptables-legacy-save' });
  });

  test('ok/count-rules-across-tables', () => {
    expect(countRules('*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -j ACCEPT\nCOMMIT\n*nat\n-A OUTPUT -j X\n-A X -j RETURN\nCOMMIT\n')).toBe(3);
  });
});

describe('capabilities', () => {
  // CapEff of root in a default Docker container (no NET_ADMIN) and of full root.
  const DOCKER = 'Name:\tnode\nCapInh:\t0000000000000000\nCapEff:\t00000000a80425fb\n';
  const ROOT = 'CapEff:\t000001ffffffffff\n';

  test.each<[string, string, string[]]>([
    ['ok/root-has-everything', ROOT, []],
    ['fail/docker-default-lacks-net-admin-and-sys-admin', DOCKER, ['CAP_NET_ADMIN', 'CAP_SYS_ADMIN']],
    ['fail/no-capabilities', 'CapEff:\t0000000000000000\n', ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN']],
  ])('%s', (_name, status, missing) => {
    const eff = effectiveCapabilities(status);
    expect(eff).not.toBeNull();
    expect(missingCapabilities(eff!, ['CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_SYS_ADMIN'])).toEqual(missing);
  });

  test('ok/no-capeff-line-means-unknown', () => {
    expect(effectiveCapabilities('Name:\tnode\n')).toBeNull();
  });

  test('ok/message-names-the-capability-and-the-pod-spec-fix', () => {
    expect(notPermittedMessage(['CAP_NET_ADMIN'])).toBe(
      'not permitted: missing capability CAP_NET_ADMIN (run as root, or add "NET_ADMIN" to the init container\'s securityContext.capabilities.add)',
    );
  });
});
