/**
 * `lanyard install`'s output for fixed inputs, against golden files, every object checked
 * against the Kubernetes OpenAPI schema of its kind, and the properties issue 9 asks for
 * checked on the objects themselves (so a golden file regenerated carelessly still fails).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { installManifests } from '../../../src/install/install-manifests.js';
import { renderJson, renderYaml } from '../../../src/install/manifest.js';
import { loadValues } from '../../../src/install/load-values.js';
import { ROOT } from '../../support/cli.js';
import { expectGolden } from '../../support/golden.js';
import { validateK8sObject } from '../../support/k8s-schema.js';

const PKI = join(ROOT, 'test', 'fixtures', 'install', 'pki');
const pki = {
  anchorsPem: readFileSync(join(PKI, 'ca.crt'), 'utf8'),
  issuerCertPem: readFileSync(join(PKI, 'issuer.crt'), 'utf8'),
  issuerKeyPem: readFileSync(join(PKI, 'issuer.key'), 'utf8'),
};

const defaults = () => installManifests(loadValues('0.1.0', {}), pki);
const ha = () =>
  installManifests(
    loadValues('0.1.0', {
      sets: ['ha=true', 'image.registry=registry.example/mesh', 'image.tag=v9', 'identity.validator=jwks', 'identity.lifetime=12h', 'trustDomain=prod.example', 'injector.failurePolicy=Fail'],
    }),
    pki,
  );

type Obj = Record<string, any>;
const objects = (ms: { object: Obj }[]) => ms.map((m) => m.object);
const ofKind = (ms: { object: Obj }[], kind: string) => objects(ms).filter((o) => o.kind === kind);

describe('lanyard install output', () => {
  test('ok/default values match the golden YAML, and the YAML parses back to the same objects', () => {
    const ms = defaults();
    const yaml = renderYaml(ms);
    expectGolden('install/default.yaml', yaml);
    const docs = parseAllDocuments(yaml);
    expect((Array.isArray(docs) ? docs : [docs]).map((d) => d.toJS())).toEqual(objects(ms));
  });

  test('ok/--ha with overrides matches the golden YAML', () => {
    expectGolden('install/ha-jwks.yaml', renderYaml(ha()));
  });

  test('ok/--output json is one List of the same objects', () => {
    const ms = defaults();
    expect(JSON.parse(renderJson(ms))).toEqual({ apiVersion: 'v1', kind: 'List', items: objects(ms) });
  });

  test.each([
    ['default', defaults],
    ['ha', ha],
  ])('ok/every object of %s validates against its OpenAPI schema', (_n, render) => {
    const ms = render();
    expect(ms.reduce((n, m) => n + validateK8sObject(m.object), 0)).toBe(ms.length);
  });

  test('ok/Deployments are hardened, probed, bounded and spread', () => {
    for (const d of ofKind(defaults(), 'Deployment')) {
      const pod = d.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
      expect(pod.topologySpreadConstraints.map((t: Obj) => t.topologyKey)).toContain('kubernetes.io/hostname');
      for (const c of pod.containers) {
        expect(c.securityContext).toEqual(expect.objectContaining({ runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } }));
        expect(c.readinessProbe.httpGet.path).toBe('/ready');
        expect(c.livenessProbe.httpGet.path).toBe('/live');
        const admin = c.ports.find((p: Obj) => p.name === 'admin').containerPort;
        expect([c.readinessProbe.httpGet.port, c.livenessProbe.httpGet.port]).toEqual([admin, admin]);
        expect(Object.keys(c.resources.requests).sort()).toEqual(['cpu', 'memory']);
        expect(Object.keys(c.resources.limits).sort()).toEqual(['cpu', 'memory']);
      }
    }
  });

  test('ok/--ha gives 3 replicas and a PodDisruptionBudget per component; default gives 1 and none', () => {
    expect(ofKind(ha(), 'Deployment').map((d) => d.spec.replicas)).toEqual([3, 3, 3]);
    expect(ofKind(ha(), 'PodDisruptionBudget').map((p) => p.metadata.name)).toEqual(['lanyard-identity', 'lanyard-discovery', 'lanyard-injector']);
    expect(ofKind(defaults(), 'Deployment').map((d) => d.spec.replicas)).toEqual([1, 1, 1]);
    expect(ofKind(defaults(), 'PodDisruptionBudget')).toEqual([]);
  });

  test('ok/RBAC is least privilege: the rules issue 9 names, nothing on Secrets, a reason above every rule', () => {
    const ms = defaults();
    const rules = Object.fromEntries(ofKind(ms, 'ClusterRole').map((r) => [r.metadata.name, r.rules]));
    expect(rules).toEqual({
      'lanyard-identity': [
        { apiGroups: ['authentication.k8s.io'], resources: ['tokenreviews'], verbs: ['create'] },
        { apiGroups: ['authorization.k8s.io'], resources: ['selfsubjectaccessreviews'], verbs: ['create'] },
      ],
      'lanyard-discovery': [{ apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] }],
      'lanyard-injector': [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get'] }],
    });
    expect(JSON.stringify(ofKind(ms, 'ClusterRole'))).not.toMatch(/secrets|\*/);
    for (const m of ms.filter((x) => x.object.kind === 'ClusterRole')) expect(m.ruleComments?.every((c) => c.trim().length > 20)).toBe(true);
    const yaml = renderYaml(ms);
    expect(yaml.match(/^ {2}# .+\n {2}- apiGroups:/gm)?.length).toBe(4);
  });

  test('ok/the identity Service is on 8080, the webhook has the anchors as caBundle and excludes kube-system and lanyard', () => {
    const ms = defaults();
    const identity = ofKind(ms, 'Service').find((s) => s.metadata.name === 'lanyard-identity')!;
    expect(identity.spec.ports).toEqual([expect.objectContaining({ port: 8080 })]);
    const [hook] = ofKind(ms, 'MutatingWebhookConfiguration')[0].webhooks;
    expect(Buffer.from(hook.clientConfig.caBundle, 'base64').toString()).toBe(pki.anchorsPem);
    expect(hook.clientConfig.service).toEqual({ name: 'lanyard-injector', namespace: 'lanyard', path: '/inject', port: 443 });
    expect(hook.namespaceSelector.matchExpressions[0]).toEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-node-lease', 'lanyard'] });
    expect(hook.failurePolicy).toBe('Ignore');
    expect(ms[ms.length - 1].object.kind).toBe('MutatingWebhookConfiguration');
  });

  test('ok/the PKI lands in a kubernetes.io/tls Secret and the bundle ConfigMap, and the identity service may sign the webhook name', () => {
    const ms = defaults();
    const secret = ofKind(ms, 'Secret')[0];
    expect(secret).toMatchObject({ type: 'kubernetes.io/tls', stringData: { 'tls.crt': pki.issuerCertPem, 'tls.key': pki.issuerKeyPem } });
    expect(ofKind(ms, 'ConfigMap').find((c) => c.metadata.name === 'lanyard-trust-anchors')!.data).toEqual({ 'ca-bundle.crt': pki.anchorsPem });
    const identity = ofKind(ms, 'Deployment').find((d) => d.metadata.name === 'lanyard-identity')!.spec.template.spec.containers[0];
    expect(identity.args.join(' ')).toContain('--extra-dns-names lanyard-injector=lanyard-injector.lanyard.svc');
    expect(identity.args.join(' ')).toContain('--validator kubernetes');
    expect(JSON.stringify(ms.map((m) => m.object))).not.toContain('ca.key');
  });

  test('ok/discovery and the injector get their certificates through Certify: token with the identity audience, bundle, identity address', () => {
    const deployments = Object.fromEntries(ofKind(defaults(), 'Deployment').map((d) => [d.metadata.name, d.spec.template.spec]));
    for (const name of ['lanyard-discovery', 'lanyard-injector']) {
      const pod = deployments[name];
      const [c] = pod.containers;
      const arg = (flag: string) => c.args[c.args.indexOf(flag) + 1];
      expect(arg('--identity-addr')).toBe('lanyard-identity.lanyard.svc.cluster.local:8080');
      const volumes = Object.fromEntries(pod.volumes.map((v: Obj) => [v.name, v]));
      const mountOf = (file: string) => c.volumeMounts.find((m: Obj) => file.startsWith(`${m.mountPath}/`));
      const token = mountOf(arg('--token-file'));
      expect(volumes[token.name].projected.sources[0].serviceAccountToken).toEqual({ audience: 'identity.lanyard.io', expirationSeconds: 3600, path: 'lanyard-identity-token' });
      const bundle = mountOf(arg('--trust-anchors'));
      expect(volumes[bundle.name].configMap.name).toBe('lanyard-trust-anchors');
      // Nothing is written: the key stays in memory, every mount is read-only.
      expect(c.volumeMounts.every((m: Obj) => m.readOnly === true)).toBe(true);
      expect(c.securityContext.readOnlyRootFilesystem).toBe(true);
    }
    expect(deployments['lanyard-discovery'].containers[0].args).toEqual(expect.arrayContaining(['--kubernetes', '--tls', 'certify']));
  });

  test('ok/values reach the manifests: registry and tag, lifetime, validator, trust domain, failure policy', () => {
    const text = JSON.stringify(objects(ha()));
    expect(text).toContain('registry.example/mesh/lanyard:v9');
    expect(text).not.toContain('ghcr.io');
    const identity = ofKind(ha(), 'Deployment')[0].spec.template.spec.containers[0].args.join(' ');
    expect(identity).toMatch(/--validator jwks --jwks-url https:\/\/kubernetes.default.svc\/openid\/v1\/jwks .*--lifetime 12h .*--trust-domain prod.example/);
    expect(ofKind(ha(), 'MutatingWebhookConfiguration')[0].webhooks[0].failurePolicy).toBe('Fail');
  });
});
