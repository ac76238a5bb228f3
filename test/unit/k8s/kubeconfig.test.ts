import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { K8sError } from '../../../src/k8s/errors.js';
import { loadKubeConfig } from '../../../src/k8s/kubeconfig.js';
import { kubeconfigYaml, writeKubeconfig } from '../../support/kubeconfig.js';

const target = { url: 'https://127.0.0.1:6443', caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n', adminToken: 'admin' };

describe('loadKubeConfig', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'lanyard-kc-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('ok/path: the file wins over everything else', () => {
    const path = writeKubeconfig(dir, target);
    const kc = loadKubeConfig({ path, env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' } });
    expect(kc.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(kc.getCurrentUser()?.token).toBe('admin');
  });

  test('ok/context: a named context is selected instead of current-context', () => {
    const path = join(dir, 'two');
    const doc = parse(kubeconfigYaml(target)) as Record<string, any>;
    doc.clusters.push({ name: 'staging', cluster: { server: 'https://staging.example:6443' } });
    doc.contexts.push({ name: 'staging', context: { cluster: 'staging', user: 'lanyard-identity' } });
    writeFileSync(path, stringify(doc));
    expect(loadKubeConfig({ path }).getCurrentCluster()?.server).toBe(target.url);
    expect(loadKubeConfig({ path, context: 'staging' }).getCurrentCluster()?.server).toBe('https://staging.example:6443');
  });

  test('ok/in-cluster: the mounted service account, read from the given env', () => {
    const sa = join(dir, 'sa');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), 'sa-token');
    writeFileSync(join(sa, 'ca.crt'), target.caPem);
    writeFileSync(join(sa, 'namespace'), 'lanyard\n');
    const kc = loadKubeConfig({ env: { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa });
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://[fd00::1]:443', caFile: join(sa, 'ca.crt') });
    expect(kc.getCurrentUser()?.authProvider).toEqual({ name: 'tokenFile', config: { tokenFile: join(sa, 'token') } });
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe('lanyard');
  });

  test('ok/KUBECONFIG: its first file when not in a pod', () => {
    const path = writeKubeconfig(dir, target);
    const kc = loadKubeConfig({ env: { KUBECONFIG: `${path}:/nonexistent` }, serviceAccountDir: join(dir, 'none') });
    expect(kc.getCurrentCluster()?.server).toBe(target.url);
  });

  test('ok/KUBECONFIG list: merged as kubectl merges it (first file wins per name; current-context from the first that sets one)', () => {
    const first = join(dir, 'first');
    const second = join(dir, 'second');
    // first: no current-context; defines cluster "shared" and context "prod".
    writeFileSync(
      first,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'shared', cluster: { server: 'https://first.example:6443' } }],
        users: [{ name: 'ops', user: { token: 'first-token' } }],
        contexts: [{ name: 'prod', context: { cluster: 'shared', user: 'ops' } }],
      }),
    );
    // second: the same names (which lose), a context of its own, and the current-context.
    writeFileSync(
      second,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'shared', cluster: { server: 'https://second.example:6443' } },
          { name: 'staging', cluster: { server: 'https://staging.example:6443' } },
        ],
        users: [{ name: 'ops', user: { token: 'second-token' } }],
        contexts: [
          { name: 'prod', context: { cluster: 'staging', user: 'ops' } },
          { name: 'staging', context: { cluster: 'staging', user: 'ops' } },
        ],
        'current-context': 'prod',
      }),
    );
    const env = { KUBECONFIG: `${join(dir, 'missing')}:${first}::${second}`, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' };
    const kc = loadKubeConfig({ env, serviceAccountDir: join(dir, 'none') });
    expect(kc.getCurrentContext()).toBe('prod');
    // "prod" is the first file's context, pointing at the first file's "shared" cluster.
    expect(kc.getCurrentCluster()?.server).toBe('https://first.example:6443');
    expect(kc.getCurrentUser()?.token).toBe('first-token');
    expect(kc.getContexts().map((c) => c.name)).toEqual(['prod', 'staging']);
    expect(kc.getClusters().map((c) => [c.name, c.server])).toEqual([
      ['shared', 'https://first.example:6443'],
      ['staging', 'https://staging.example:6443'],
    ]);
    expect(loadKubeConfig({ env, context: 'staging' }).getCurrentCluster()?.server).toBe('https://staging.example:6443');
  });

  test('ok/KUBECONFIG list: the first current-context wins', () => {
    const a = writeKubeconfig(dir, target, { fileName: 'a' });
    const doc = parse(kubeconfigYaml({ ...target, url: 'https://b.example:6443' })) as Record<string, any>;
    doc.clusters[0].name = 'b';
    doc.contexts[0] = { name: 'b', context: { cluster: 'b', user: 'lanyard-identity' } };
    doc['current-context'] = 'b';
    writeFileSync(join(dir, 'b'), stringify(doc));
    expect(loadKubeConfig({ env: { KUBECONFIG: `${a}:${join(dir, 'b')}` } }).getCurrentCluster()?.server).toBe(target.url);
    expect(loadKubeConfig({ env: { KUBECONFIG: `${join(dir, 'b')}:${a}` } }).getCurrentCluster()?.server).toBe('https://b.example:6443');
  });

  test('ok/KUBECONFIG wins over the in-cluster service account (the operator set it)', () => {
    const sa = join(dir, 'sa');
    mkdirSync(sa);
    writeFileSync(join(sa, 'token'), 'sa-token');
    const path = writeKubeconfig(dir, target);
    const kc = loadKubeConfig({ env: { KUBECONFIG: path, KUBERNETES_SERVICE_HOST: '10.0.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa });
    expect(kc.getCurrentCluster()?.server).toBe(target.url);
  });

  test('ok/home: ~/.kube/config last', () => {
    writeKubeconfig(join(dir, '.kube'), target, { fileName: 'config' });
    const kc = loadKubeConfig({ env: { HOME: dir }, serviceAccountDir: join(dir, 'none') });
    expect(kc.getCurrentCluster()?.server).toBe(target.url);
  });

  test.each([
    ['fail/nothing-found', () => ({ env: { HOME: dir }, serviceAccountDir: join(dir, 'none') }), /no Kubernetes configuration found/],
    ['fail/missing-file', () => ({ path: join(dir, 'missing') }), /cannot load kubeconfig .*missing/],
    ['fail/KUBECONFIG-all-missing', () => ({ env: { KUBECONFIG: `${join(dir, 'a')}:${join(dir, 'b')}` } }), /none of the kubeconfig files in \$KUBECONFIG exist: .*a, .*b$/],
    ['fail/KUBECONFIG-one-not-yaml', () => (writeFileSync(join(dir, 'bad'), '{{{'), { env: { KUBECONFIG: `${writeKubeconfig(dir, target)}:${join(dir, 'bad')}` } }), /cannot load kubeconfig .*bad/],
    ['fail/not-yaml', () => (writeFileSync(join(dir, 'bad'), '{{{'), { path: join(dir, 'bad') }), /cannot load kubeconfig .*bad/],
    ['fail/unknown-context', () => ({ path: writeKubeconfig(dir, target), context: 'prod' }), /context "prod" does not exist/],
    [
      'fail/plain-http',
      () => ({ path: writeKubeconfig(dir, { ...target, url: 'http://127.0.0.1:8080' }) }),
      /server http:\/\/127\.0\.0\.1:8080 is plain HTTP/,
    ],
    [
      'fail/no-current-context',
      () => (writeFileSync(join(dir, 'empty'), 'apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n'), { path: join(dir, 'empty') }),
      /names no cluster with a server URL/,
    ],
  ])('%s', (_name, src, message) => {
    const err = (() => {
      try {
        loadKubeConfig(src());
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(err).toBeInstanceOf(K8sError);
    expect(err).toMatchObject({ code: 'ERR_K8S_CONFIG', message: expect.stringMatching(message) });
  });
});
