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

  test('ok/home: ~/.kube/config last', () => {
    writeKubeconfig(join(dir, '.kube'), target, { fileName: 'config' });
    const kc = loadKubeConfig({ env: { HOME: dir }, serviceAccountDir: join(dir, 'none') });
    expect(kc.getCurrentCluster()?.server).toBe(target.url);
  });

  test.each([
    ['fail/nothing-found', () => ({ env: { HOME: dir }, serviceAccountDir: join(dir, 'none') }), /no Kubernetes configuration found/],
    ['fail/missing-file', () => ({ path: join(dir, 'missing') }), /cannot load kubeconfig .*missing/],
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
