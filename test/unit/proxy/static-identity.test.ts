/**
 * A workload certificate from files (cert-manager, SPIRE, benchmarks): loaded and installed
 * at start, replaced when a Secret volume swaps `..data`, a pair that names another identity
 * is refused once and the installed certificate stays, and refreshNow() checks the same
 * files again against anchors that changed.
 */
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StaticIdentity } from '../../../proxy/identity/static-identity.js';
import { TlsState } from '../../../proxy/tls/tls-state.js';
import { createTestPki, type TestPki } from '../../support/test-ca.js';
import { identityOf, workloadLeaf, type LeafPem } from '../../support/mesh-harness.js';
import { LogSink } from '../../support/log-sink.js';
import { writeSecretVolume } from '../../support/secret-volume.js';
import { until } from '../../support/until.js';

const WEB = identityOf('default', 'web');
let pki: TestPki;
let dir: string;
beforeAll(async () => {
  pki = await createTestPki();
});
beforeEach(() => {
  dir = join(mkdtempSync(join(tmpdir(), 'lanyard-static-id-')), 'tls');
});
afterEach(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

const leaf = (sa = 'web') => workloadLeaf({ issuerCert: pki.issuerCert, issuerKey: pki.issuerKey, ns: 'default', sa });
const volume = (l: LeafPem) => ({ 'tls.crt': l.certPem + l.chainPem, 'tls.key': l.keyPem });
const serialOf = (l: LeafPem) => new X509Certificate(l.certPem).serialNumber;

test('loads at start, follows a ..data swap, refuses another identity once, re-checks on refreshNow', async () => {
  const first = await leaf();
  writeSecretVolume(dir, volume(first));
  const tls = new TlsState(pki.anchor.certPem);
  const logs = new LogSink();
  const id = new StaticIdentity({ identity: WEB, certFile: join(dir, 'tls.crt'), keyFile: join(dir, 'tls.key'), tls, logger: logs.logger(), pollIntervalMs: 600_000 });
  id.start();
  try {
    await id.ready;
    expect(tls.current()?.certificate).toMatchObject({ identity: WEB, serial: serialOf(first) });

    const second = await leaf();
    writeSecretVolume(dir, volume(second));
    await until(() => tls.current()?.certificate.serial === serialOf(second), 'the second certificate installed');

    writeSecretVolume(dir, volume(await leaf('api')));
    await until(() => id.lastFailure !== null, 'the api certificate refused');
    expect(id.lastFailure).toMatch(/names api\.default\.serviceaccount\.identity\.lanyard\.cluster\.local, not web\.default/);
    expect(tls.current()?.certificate.serial).toBe(serialOf(second));

    // Back to a good pair, then the anchors move away from its issuer: refreshNow refuses it.
    const third = await leaf();
    writeSecretVolume(dir, volume(third));
    await until(() => tls.current()?.certificate.serial === serialOf(third), 'the third certificate installed');
    expect(id.lastFailure).toBeNull();
    tls.setAnchors((await createTestPki()).anchor.certPem);
    id.refreshNow();
    await until(() => id.lastFailure !== null, 'the pair refused under the new anchors');
    expect(id.lastFailure).toMatch(/does not chain to any trust anchor/);
    expect(logs.where({ event: 'identity_refresh_failed' })).toHaveLength(2);
    expect(logs.where({ event: 'identity_refreshed' })).toHaveLength(3);
  } finally {
    id.stop();
  }
});
