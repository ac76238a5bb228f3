/** Values for install and inject: defaults, --values files, --set, flags; errors name the key and its source. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadValues } from '../../../src/install/load-values.js';
import { ValueError } from '../../../src/util/value-error.js';

const file = (text: string) => {
  const p = join(mkdtempSync(join(tmpdir(), 'lanyard-values-')), 'values.yaml');
  writeFileSync(p, text);
  return p;
};

describe('loadValues', () => {
  test('ok/defaults, then files, then --set, then flags; --ha gives 3 replicas unless one was set', () => {
    const f = file('image: {tag: v1}\nidentity:\n  replicas: 2\n  lifetime: 12h\n');
    const v = loadValues('0.1.0', { valuesFiles: [f], sets: ['image.tag=v2', 'proxy.resources.limits.memory=256Mi'], overrides: [{ flag: '--ha', key: 'ha', value: 'true' }] });
    expect(v.image.tag).toBe('v2');
    expect(v.identity).toMatchObject({ replicas: 2, lifetime: '12h' });
    expect([v.discovery.replicas, v.injector.replicas]).toEqual([3, 3]);
    expect(v.proxy.resources.limits.memory).toBe('256Mi');
    expect(loadValues('0.1.0', {}).image.tag).toBe('0.1.0');
  });

  test.each([
    [{ sets: ['image.tagg=v1'] }, /--set image.tagg=v1: unknown key "image.tagg"; known keys: image.registry/],
    [{ sets: ['identity.replicas=0'] }, /--set identity.replicas=0: expected an integer from 1 to 100/],
    [{ sets: ['identity.lifetime=5s'] }, /must be at least 10s/],
    [{ sets: ['identity.lifetime=24'] }, /a number needs a unit/],
    [{ sets: ['identity.validator=dev'] }, /expected one of kubernetes, jwks/],
    [{ sets: ['proxy.resources.limits.memory=lots'] }, /resource quantity/],
    [{ sets: ['proxy.tokenExpiration=5m'] }, /at least 600s/],
    [{ sets: ['injector.timeoutSeconds=31'] }, /from 1 to 30/],
    [{ sets: ['trustDomain=Prod'] }, /DNS name/],
    [{ sets: ['noequals'] }, /expected key=value/],
    [{ sets: ['image=x'] }, /unknown key "image"/],
  ])('fail/%j', (src, re) => {
    expect(() => loadValues('0.1.0', src)).toThrow(ValueError);
    expect(() => loadValues('0.1.0', src)).toThrow(re);
  });

  test('fail/a values file names itself and the key', () => {
    const f = file('identity:\n  replicas: many\n');
    expect(() => loadValues('0.1.0', { valuesFiles: [f] })).toThrow(`--values ${f}: expected an integer from 1 to 100, got "many"`);
    const g = file('identity: [1, 2]\n');
    expect(() => loadValues('0.1.0', { valuesFiles: [g] })).toThrow(/identity: expected a single value or a map of keys, got a list/);
    const h = file('a: [unclosed\n');
    expect(() => loadValues('0.1.0', { valuesFiles: [h] })).toThrow(/not YAML/);
  });
});
