/**
 * `lanyard.io/skip-inbound-ports` and `lanyard.io/skip-outbound-ports` on a pod become
 * proxy-init's `--inbound-ports-to-ignore`/`--outbound-ports-to-ignore`, in the one grammar
 * both share: the injected init container's arguments parse with proxy-init's own parser
 * into the nat rules that skip those ports. A malformed value refuses the injection, naming
 * the annotation, in `lanyard inject` and in the webhook alike.
 */
import { PROXY_INIT_FLAGS, parseProxyInitConfig, type ProxyInitKey, type RawProxyInitConfig } from '../../../proxy/init/init-config.js';
import { installCommands } from '../../../proxy/init/nat-plan.js';
import { buildNatRules } from '../../../proxy/init/rules.js';
import { decide } from '../../../src/inject/admission-review.js';
import { injectConfigFrom } from '../../../src/inject/inject-config.js';
import { applyPatch } from '../../../src/inject/json-patch.js';
import { ManifestError, rewriteManifests } from '../../../src/inject/manifest-rewriter.js';
import { planInjection, type PodTemplate } from '../../../src/inject/pod-patch.js';
import { loadValues } from '../../../src/install/load-values.js';

const cfg = injectConfigFrom(loadValues('0.1.0', {}), null);
const pod = (annotations: Record<string, string> = {}): PodTemplate => ({ metadata: { annotations }, spec: { containers: [{ name: 'web', image: 'shop/web:1' }] } });

function injected(t: PodTemplate): PodTemplate {
  const d = planInjection(t, cfg);
  if (d.action !== 'inject') throw new Error(`expected inject, got ${d.action}: ${'reason' in d ? d.reason : ''}`);
  return applyPatch(t, d.ops);
}
const initArgs = (t: PodTemplate): string[] => (t.spec!.initContainers!.find((c) => c.name === 'lanyard-init') as { args: string[] }).args;

/** What `lanyard proxy-init` makes of the arguments: its config, by its own flag table and parser. */
function proxyInitConfig(args: string[]) {
  const byFlag = new Map(Object.entries(PROXY_INIT_FLAGS).map(([k, f]) => [f.flag, k as ProxyInitKey]));
  const raw: RawProxyInitConfig = {};
  for (let i = 0; i < args.length; i += 2) {
    const key = byFlag.get(args[i]);
    if (!key) throw new Error(`proxy-init has no flag ${args[i]}`);
    raw[key] = args[i + 1];
  }
  return parseProxyInitConfig(raw);
}

test('ok/both annotations reach proxy-init as its flags, normalized, and become the nat rules that skip them', () => {
  const t = injected(pod({ 'lanyard.io/skip-inbound-ports': ' 22, 6000:6010,22', 'lanyard.io/skip-outbound-ports': '3306,25-26' }));
  const args = initArgs(t);
  expect(args.slice(-4)).toEqual(['--inbound-ports-to-ignore', '22,6000-6010', '--outbound-ports-to-ignore', '3306,25-26']);
  const init = proxyInitConfig(args);
  expect(init.inboundPortsToIgnore).toEqual([{ from: 22, to: 22 }, { from: 6000, to: 6010 }]);
  expect(init.outboundPortsToIgnore).toEqual([{ from: 3306, to: 3306 }, { from: 25, to: 26 }]);
  const rules = installCommands(buildNatRules(init, 4)).map((a) => a.join(' '));
  expect(rules).toContain('-t nat -A LANYARD_PREROUTING -p tcp -m multiport --dports 4143,4191,22,6000:6010 -m comment --comment lanyard-skip-inbound-ports -j RETURN');
  expect(rules.filter((r) => r.includes('lanyard-skip-outbound-ports'))).toEqual([expect.stringContaining('--dports 3306,25:26')]);
});

test('ok/one annotation, or none (or an empty value): only what is asked is passed', () => {
  expect(initArgs(injected(pod({ 'lanyard.io/skip-outbound-ports': '5432' }))).filter((a) => a.startsWith('--') && a.includes('ignore'))).toEqual(['--outbound-ports-to-ignore']);
  const plain = initArgs(injected(pod()));
  expect(plain).toEqual(['--inbound-port', '4143', '--outbound-port', '4140', '--admin-port', '4191', '--proxy-uid', '2102']);
  expect(initArgs(injected(pod({ 'lanyard.io/skip-inbound-ports': ' ' })))).toEqual(plain);
});

test('ok/changing the annotation and injecting again updates proxy-init; the same value changes nothing', () => {
  const t = injected(pod({ 'lanyard.io/skip-inbound-ports': '22' }));
  expect(planInjection(t, cfg)).toMatchObject({ action: 'unchanged' });
  t.metadata!.annotations!['lanyard.io/skip-inbound-ports'] = '22,2222';
  const d = planInjection(t, cfg);
  expect(d).toMatchObject({ action: 'inject', update: true });
  if (d.action !== 'inject') return;
  expect(initArgs(applyPatch(t, d.ops)).slice(-2)).toEqual(['--inbound-ports-to-ignore', '22,2222']);
});

test.each([
  ['a word', { 'lanyard.io/skip-inbound-ports': '22,ssh' }, /^annotation lanyard\.io\/skip-inbound-ports: expected TCP ports 1-65535 such as 25,587,6000-6010 \("ssh" is not one\), got "22,ssh"$/],
  ['a reversed range', { 'lanyard.io/skip-outbound-ports': '6010-6000' }, /^annotation lanyard\.io\/skip-outbound-ports: expected ranges written low-high \(6000-6010\)/],
  ['port 0', { 'lanyard.io/skip-outbound-ports': '0' }, /^annotation lanyard\.io\/skip-outbound-ports: expected a TCP port from 1 to 65535, got "0"$/],
])('fail/%s refuses the injection, naming the annotation, in inject and in the webhook', (_n, annotations, message) => {
  const d = planInjection(pod(annotations), cfg);
  expect(d.action).toBe('refuse');
  expect((d as { reason: string }).reason).toMatch(message);

  const yaml = `apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: shop\n  annotations: ${JSON.stringify(annotations)}\nspec:\n  containers: [{name: web, image: x}]\n`;
  expect(() => rewriteManifests(yaml, { inject: cfg })).toThrow(ManifestError);
  expect(() => rewriteManifests(yaml, { inject: cfg })).toThrow(/^Pod shop\/web: annotation lanyard\.io\/skip-/);

  const answer = decide({ request: { uid: 'u1', namespace: 'shop', pod: pod({ ...annotations, 'lanyard.io/inject': 'enabled' }) }, namespaceAnnotations: {}, cfg, excludedNamespaces: [] });
  expect(answer.decision).toBe('refused');
  expect(answer.review.response).toMatchObject({ uid: 'u1', allowed: false, status: { code: 400, message: expect.stringMatching(/^lanyard injector: annotation lanyard\.io\/skip-/) } });
});
