/**
 * `lanyard inject` over every workload kind: golden output, schema-valid results,
 * idempotence, uninject restoring the input byte for byte, updates with new values, skips
 * with reasons, JSON input, and the webhook's JSONPatch making the same change as the YAML path.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { injectConfigFrom } from '../../../src/inject/inject-config.js';
import { applyPatch } from '../../../src/inject/json-patch.js';
import { rewriteManifests } from '../../../src/inject/manifest-rewriter.js';
import { planInjection } from '../../../src/inject/pod-patch.js';
import { isMeshedPod } from '../../../src/inject/meshed-pod.js';
import { WORKLOAD_KINDS, getPath, podTemplatePath } from '../../../src/inject/workloads.js';
import { loadValues } from '../../../src/install/load-values.js';
import { bundleFingerprint } from '../../../src/pki/bundle-fingerprint.js';
import { ROOT } from '../../support/cli.js';
import { expectGolden } from '../../support/golden.js';
import { validateK8sObject } from '../../support/k8s-schema.js';

const fixture = (name: string) => readFileSync(join(ROOT, 'test', 'fixtures', 'inject', name), 'utf8');
const anchors = readFileSync(join(ROOT, 'test', 'fixtures', 'install', 'pki', 'ca.crt'), 'utf8');
const cfg = (sets: string[] = []) => injectConfigFrom(loadValues('0.1.0', { sets }), bundleFingerprint(anchors));
const inject = (text: string, sets: string[] = []) => rewriteManifests(text, { inject: cfg(sets) });
const uninject = (text: string) => rewriteManifests(text, { uninject: true });
const docs = (text: string): any[] => {
  const d = parseAllDocuments(text);
  return (Array.isArray(d) ? d : [d]).map((x) => x.toJS()).filter(Boolean);
};
/** Every workload of a stream, Lists unrolled. */
const workloads = (text: string): any[] => docs(text).flatMap((o) => (o.kind === 'List' ? o.items : [o])).filter((o) => podTemplatePath(o));
const templateOf = (o: any) => getPath(o, podTemplatePath(o)!) as any;

const WORKLOADS = fixture('workloads.yaml');

describe('lanyard inject', () => {
  test('ok/every workload kind matches the golden output (classic and native sidecar)', () => {
    expectGolden('inject/workloads.injected.yaml', inject(WORKLOADS).text);
    expectGolden('inject/workloads.native-sidecar.yaml', inject(WORKLOADS, ['proxy.nativeSidecar=true']).text);
  });

  test('ok/the fixture covers every kind inject knows, plus a List and a non-workload', () => {
    const kinds = new Set(workloads(WORKLOADS).map((o) => o.kind));
    expect([...kinds].sort()).toEqual(WORKLOADS_KNOWN);
    expect(docs(WORKLOADS).map((o) => o.kind)).toEqual(expect.arrayContaining(['List', 'Service']));
  });

  test.each([
    ['classic', [] as string[]],
    ['native sidecar', ['proxy.nativeSidecar=true']],
  ])('ok/%s: every injected object validates against its schema and is meshed', (_n, sets) => {
    const out = inject(WORKLOADS, sets);
    for (const o of docs(out.text)) validateK8sObject(o);
    for (const w of workloads(out.text)) {
      const t = templateOf(w);
      expect(isMeshedPod(t)).toBe(true);
      const inits = t.spec.initContainers.map((c: any) => c.name);
      expect(inits[0]).toBe('lanyard-init');
      if (sets.length) {
        expect(inits[1]).toBe('lanyard-proxy');
        expect(t.spec.initContainers[1].restartPolicy).toBe('Always');
        expect(t.spec.containers.map((c: any) => c.name)).not.toContain('lanyard-proxy');
      } else expect(t.spec.containers[t.spec.containers.length - 1].name).toBe('lanyard-proxy');
    }
    expect(out.reports.map((r) => r.outcome)).toEqual(Array(8).fill('injected'));
  });

  test('ok/the proxy gets its identity from the downward API and the bundle as a mounted ConfigMap, never in env', () => {
    const pod = templateOf(workloads(inject(WORKLOADS).text)[0]);
    const proxy = pod.spec.containers.find((c: any) => c.name === 'lanyard-proxy');
    const env = Object.fromEntries(proxy.env.map((e: any) => [e.name, e.value ?? e.valueFrom.fieldRef.fieldPath]));
    expect(env).toMatchObject({
      LANYARD_POD_NAMESPACE: 'metadata.namespace',
      LANYARD_POD_SERVICE_ACCOUNT: 'spec.serviceAccountName',
      LANYARD_POD_NAME: 'metadata.name',
      LANYARD_POD_IP: 'status.podIP',
      LANYARD_PROXY_LOCAL_IDENTITY: '$(LANYARD_POD_SERVICE_ACCOUNT).$(LANYARD_POD_NAMESPACE).serviceaccount.identity.lanyard.cluster.local',
      LANYARD_PROXY_IDENTITY_ADDR: 'lanyard-identity.lanyard.svc.cluster.local:8080',
      LANYARD_PROXY_IDENTITY_NAME: 'lanyard-identity.lanyard.serviceaccount.identity.lanyard.cluster.local',
      LANYARD_PROXY_TRUST_ANCHORS: '/var/run/lanyard/trust-anchors/ca-bundle.crt',
      // Discovery's answers decide whom the proxy expects: it is verified over TLS as its own identity.
      LANYARD_PROXY_DISCOVERY_ADDR: 'lanyard-discovery.lanyard.svc.cluster.local:8086',
      LANYARD_PROXY_DISCOVERY_NAME: 'lanyard-discovery.lanyard.serviceaccount.identity.lanyard.cluster.local',
    });
    expect(JSON.stringify(proxy.env)).not.toContain('BEGIN CERTIFICATE');
    expect(proxy.securityContext).toMatchObject({ runAsUser: 2102, runAsNonRoot: true, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(proxy.readinessProbe.httpGet).toEqual({ path: '/ready', port: 4191 });
    expect(proxy.command).toEqual(['/opt/lanyard/proxy/bin/lanyard-proxy']);
    const init = pod.spec.initContainers[0];
    expect(init.securityContext.capabilities).toEqual({ add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] });
    expect(init.command).toEqual(['/usr/local/bin/lanyard', 'proxy-init']);
    const volumes = Object.fromEntries(pod.spec.volumes.map((v: any) => [v.name, v]));
    expect(volumes['lanyard-trust-anchors'].configMap.name).toBe('lanyard-trust-anchors');
    expect(volumes['lanyard-identity-token'].projected.sources[0].serviceAccountToken).toEqual({ audience: 'identity.lanyard.io', expirationSeconds: 3600, path: 'lanyard-identity-token' });
    expect(volumes['lanyard-identity'].emptyDir.medium).toBe('Memory');
    expect(pod.metadata.annotations).toMatchObject({ 'lanyard.io/proxy-version': '0.1.0', 'lanyard.io/trust-bundle-sha256': bundleFingerprint(anchors) });
  });

  test.each([
    ['classic', [] as string[]],
    ['native sidecar', ['proxy.nativeSidecar=true']],
  ])('ok/%s: injecting twice changes nothing and uninject restores the input byte for byte', (_n, sets) => {
    const once = inject(WORKLOADS, sets);
    const twice = inject(once.text, sets);
    expect(twice.text).toBe(once.text);
    expect(twice.reports.map((r) => r.outcome)).toEqual(Array(8).fill('unchanged'));
    const back = uninject(once.text);
    expect(back.text).toBe(WORKLOADS);
    expect(back.reports.map((r) => r.outcome)).toEqual(Array(8).fill('uninjected'));
    expect(uninject(WORKLOADS).text).toBe(WORKLOADS);
  });

  test('ok/re-injecting with other values updates the proxy in place, and uninject still restores the input', () => {
    const first = inject(WORKLOADS).text;
    const upgraded = inject(first, ['image.tag=v2', 'proxy.nativeSidecar=true']);
    expect(upgraded.reports.every((r) => r.outcome === 'updated')).toBe(true);
    expect(upgraded.text).toBe(inject(WORKLOADS, ['image.tag=v2', 'proxy.nativeSidecar=true']).text);
    expect(uninject(upgraded.text).text).toBe(WORKLOADS);
  });

  test('ok/comments and field order outside the injected parts are kept', () => {
    const out = inject(WORKLOADS).text;
    for (const comment of ['# the storefront', '# runs meshed: lanyard-init goes before it', '# Not a workload: passes through as it is.', '# A sample of every workload kind']) {
      expect(out).toContain(comment);
    }
    // The keys that were there keep their order (injection may add initContainers and volumes after them).
    const before = workloads(WORKLOADS).map((o) => Object.keys(o.spec));
    expect(workloads(out).map((o, i) => Object.keys(o.spec).filter((k) => before[i].includes(k)))).toEqual(before);
    // The Service document is copied byte for byte.
    const service = WORKLOADS.slice(WORKLOADS.indexOf('# Not a workload'), WORKLOADS.indexOf('---\napiVersion: v1\nkind: List'));
    expect(out).toContain(service);
  });

  test('fail/hostNetwork, another mesh\'s sidecar and the opt-out annotation are skipped with reasons, input untouched', () => {
    const input = fixture('skipped.yaml');
    const out = inject(input);
    expect(out.text).toBe(input);
    expect(out.reports).toEqual([
      { workload: 'DaemonSet monitoring/node-exporter', outcome: 'skipped', reason: expect.stringMatching(/^hostNetwork: true/) },
      { workload: 'Deployment shop/legacy', outcome: 'skipped', reason: 'already has a sidecar proxy (container linkerd-proxy)' },
      { workload: 'Deployment shop/batch', outcome: 'skipped', reason: 'annotation lanyard.io/inject: disabled on the workload' },
      { workload: 'Pod shop/probe', outcome: 'skipped', reason: 'annotation lanyard.io/inject: disabled on the pod' },
    ]);
  });

  test('fail/a hand-written lanyard-proxy container is not taken for an injected one', () => {
    const input = 'apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - {name: app, image: a}\n    - {name: lanyard-proxy, image: b}\n';
    expect(inject(input).reports[0]).toEqual({ workload: 'Pod p', outcome: 'skipped', reason: expect.stringContaining('that injection did not add') });
  });

  test('ok/JSON input (kubectl get -o json) is injected as JSON and round-trips', () => {
    const list = { apiVersion: 'v1', kind: 'List', items: workloads(WORKLOADS) };
    const text = JSON.stringify(list, null, 2) + '\n';
    const out = inject(text);
    const parsed = JSON.parse(out.text);
    validateK8sObject(parsed);
    expect(parsed.items.every((w: any) => isMeshedPod(templateOf(w)))).toBe(true);
    expect(JSON.parse(uninject(out.text).text)).toEqual(list);
  });

  test('ok/the webhook\'s JSONPatch on a Pod makes exactly the change the YAML path makes', () => {
    const pod = docs(WORKLOADS).find((o) => o.kind === 'Pod');
    const plan = planInjection(pod, cfg());
    if (plan.action !== 'inject') throw new Error(`expected inject, got ${plan.action}`);
    expect(applyPatch(pod, plan.ops)).toEqual(docs(inject(WORKLOADS).text).find((o) => o.kind === 'Pod'));
  });

  test('fail/input that is not YAML is refused with the document number', () => {
    expect(() => inject('kind: Pod\n---\nmetadata: [unclosed\n')).toThrow(/document 2/);
    expect(() => inject('{"kind": ')).toThrow(/not valid JSON/);
  });
});

const WORKLOADS_KNOWN = [...WORKLOAD_KINDS].filter((k) => k !== 'ReplicationController').sort();
