/**
 * The proxy's trust-anchors file, mounted from a ConfigMap: the first read finds what the
 * proxy started with and announces nothing; an added anchor arrives through the `..data`
 * swap; a bundle that is garbage, empty or not a CA is refused once each and the anchors in
 * force stay; a good bundle after that is a recovery.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrustAnchorsFile } from '../../../proxy/trust-anchors-file.js';
import { createAnchor } from '../../../certs/ca.js';
import { LogSink } from '../../support/log-sink.js';
import { writeSecretVolume } from '../../support/secret-volume.js';
import { until } from '../../support/until.js';

test('anchor rotation through a ConfigMap volume; bad bundles refused once each', async () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'lanyard-anchors-')), 'anchors');
  const [a, b] = await Promise.all([createAnchor({ commonName: 'root-a' }), createAnchor({ commonName: 'root-b' })]);
  writeSecretVolume(dir, { 'ca.crt': a.certPem });
  const logs = new LogSink();
  const changes: string[] = [];
  const file = new TrustAnchorsFile({ file: join(dir, 'ca.crt'), logger: logs.logger(), pollIntervalMs: 600_000, onChange: (pem) => changes.push(pem) }, a.certPem);
  await file.start();
  try {
    expect(changes).toEqual([]);

    writeSecretVolume(dir, { 'ca.crt': a.certPem + b.certPem });
    await until(() => changes.length === 1, 'the two-anchor bundle');
    expect(changes[0]).toBe(a.certPem + b.certPem);
    expect(logs.where({ event: 'trust_anchors_loaded' })[0].anchors).toHaveLength(2);

    writeSecretVolume(dir, { 'ca.crt': 'not a certificate' });
    await until(() => logs.where({ event: 'trust_anchors_rejected' }).length === 1, 'the garbage refused');
    await file.reload();
    await file.reload();
    expect(logs.where({ event: 'trust_anchors_rejected' })).toHaveLength(1);
    writeSecretVolume(dir, { 'ca.crt': '' });
    await until(() => logs.where({ event: 'trust_anchors_rejected' }).length === 2, 'the empty file refused');
    expect(logs.where({ event: 'trust_anchors_rejected' })[1].reason).toMatch(/is empty$/);
    expect(changes).toHaveLength(1);

    writeSecretVolume(dir, { 'ca.crt': b.certPem });
    await until(() => changes.length === 2, 'the bundle without the old anchor');
    expect(changes[1]).toBe(b.certPem);
    expect(logs.where({ event: 'trust_anchors_recovered' })).toHaveLength(1);
  } finally {
    file.stop();
    rmSync(join(dir, '..'), { recursive: true, force: true });
  }
});
