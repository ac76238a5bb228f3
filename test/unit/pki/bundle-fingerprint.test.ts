/** The trust-bundle fingerprint recorded on injected pods depends on the anchors only. */
import { bundleFingerprint } from '../../../src/pki/bundle-fingerprint.js';
import { createTestPki } from '../../support/test-ca.js';

describe('bundleFingerprint', () => {
  test('ok/order, duplicates, wrapping and text around the blocks do not matter; the anchors do', async () => {
    const [a, b] = [(await createTestPki()).anchor.certPem, (await createTestPki()).anchor.certPem];
    const fp = bundleFingerprint(a + b);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
    expect(bundleFingerprint(b + a)).toBe(fp);
    expect(bundleFingerprint(`# comment\n${a}\n\n${b}${a}`)).toBe(fp);
    expect(bundleFingerprint(a.replace(/\n/g, '\r\n') + b)).toBe(fp);
    expect(bundleFingerprint(a)).not.toBe(fp);
    expect(bundleFingerprint(b)).not.toBe(bundleFingerprint(a));
  });

  test('fail/no certificate', () => {
    expect(() => bundleFingerprint('nothing here')).toThrow(/no PEM CERTIFICATE/);
  });
});
