/** The meshed-pod rule discovery and `lanyard check` share. */
import { isMeshedPod, podBundleFingerprint } from '../../../src/inject/meshed-pod.js';

describe('isMeshedPod', () => {
  test.each([
    ['ok/injection annotation', { metadata: { annotations: { 'lanyard.io/proxy-version': '0.1.0' } }, spec: { containers: [{ name: 'app' }] } }, true],
    ['ok/lanyard-proxy container', { spec: { containers: [{ name: 'app' }, { name: 'lanyard-proxy' }] } }, true],
    ['ok/lanyard-proxy native sidecar', { spec: { initContainers: [{ name: 'lanyard-proxy', restartPolicy: 'Always' }], containers: [{ name: 'app' }] } }, true],
    ['fail/lanyard-proxy as a plain init container (it exits)', { spec: { initContainers: [{ name: 'lanyard-proxy' }], containers: [{ name: 'app' }] } }, false],
    ['fail/only lanyard-init', { spec: { initContainers: [{ name: 'lanyard-init' }], containers: [{ name: 'app' }] } }, false],
    ['fail/opt-in annotation alone is not a proxy', { metadata: { annotations: { 'lanyard.io/inject': 'enabled' } }, spec: { containers: [{ name: 'app' }] } }, false],
    ['fail/garbage spec', { spec: { containers: 'x' as unknown } }, false],
  ])('%s', (_n, pod, meshed) => {
    expect(isMeshedPod(pod)).toBe(meshed);
  });

  test('ok/the recorded bundle fingerprint, or null', () => {
    expect(podBundleFingerprint({ metadata: { annotations: { 'lanyard.io/trust-bundle-sha256': 'ab' } } })).toBe('ab');
    expect(podBundleFingerprint({})).toBeNull();
  });
});
