/**
 * The issuer store refuses bad issuers and bundles, keeps the last good pair, and counts
 * each as the part it is about (issuer reloads, trust bundle reloads).
 */
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IssuerStore } from '../../../src/identity/issuer-store.js';
import { createRegistry } from '../../../src/telemetry/metrics.js';
import { ecPublicKeyOf } from '../../../src/pki/ec-key.js';
import { LeafSigner } from '../../../src/pki/leaf-signer.js';
import { encodePem } from '../../../src/pki/pem.js';
import { createAnchor, createIssuer } from '../../../certs/ca.js';
import { createTestPki, writeIssuerDir, type TestPki } from '../../support/test-ca.js';
import { LogSink } from '../../support/log-sink.js';
import { until } from '../../support/until.js';

let good: TestPki;
let dirs: string[] = [];
beforeAll(async () => {
  good = await createTestPki();
});
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'lanyard-issuer-'));
  dirs.push(d);
  return d;
}

async function reloadCount(registry: ReturnType<typeof createRegistry>, result: string, part: 'issuer' | 'bundle' = 'issuer'): Promise<number> {
  const m = await registry.getSingleMetric(part === 'issuer' ? 'lanyard_identity_issuer_reloads_total' : 'lanyard_identity_trust_bundle_reloads_total')!.get();
  return m.values.find((v) => v.labels.result === result)?.value ?? 0;
}

interface BadCase {
  name: string;
  write: (dir: string) => Promise<void>;
  reason: RegExp;
  /** What the refusal is about (default the issuer); bundle refusals are logged as trust_bundle_rejected. */
  part?: 'issuer' | 'bundle';
  /** `error` when the files cannot be read. Default refused. */
  result?: 'refused' | 'error';
}

const rejectedEvent = (c: BadCase) => (c.part === 'bundle' ? 'trust_bundle_rejected' : 'issuer_rejected');

const badCases: BadCase[] = [
  {
    name: 'fail/expired-issuer',
    write: async (dir) => {
      const pki = await createTestPki({ anchor: good.anchor, issuerDays: 1, notBefore: new Date(Date.now() - 3 * 86_400_000) });
      writeIssuerDir(dir, pki);
    },
    reason: /expired/,
  },
  {
    name: 'fail/issuer-not-a-ca',
    write: async (dir) => {
      // A workload leaf (CA:false) signed by the anchor, with its own key.
      const kp = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const signer = new LeafSigner(good.anchorCert.raw, createPrivateKey(good.anchor.keyPem));
      const leaf = await signer.sign({
        key: ecPublicKeyOf(kp.publicKey),
        dnsName: 'web.default.serviceaccount.identity.lanyard.cluster.local',
        spiffeId: 'spiffe://cluster.local/ns/default/sa/web',
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 3_600_000),
      });
      writeIssuerDir(dir, { issuer: { certPem: encodePem('CERTIFICATE', leaf.der), keyPem: kp.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() }, anchor: good.anchor });
    },
    reason: /is not a CA certificate/,
  },
  {
    name: 'fail/key-does-not-match',
    write: async (dir) => {
      const other = await createIssuer({ commonName: 'other', caCertPem: good.anchor.certPem, caKeyPem: good.anchor.keyPem });
      writeIssuerDir(dir, { issuer: { certPem: good.issuer.certPem, keyPem: other.keyPem }, anchor: good.anchor });
    },
    reason: /key does not match/,
  },
  {
    name: 'fail/not-chaining-to-an-anchor',
    write: async (dir) => {
      const foreign = await createTestPki();
      writeIssuerDir(dir, { issuer: foreign.issuer, anchor: good.anchor });
    },
    reason: /does not chain to any trust anchor/,
  },
  {
    name: 'fail/garbage-key',
    write: async (dir) => {
      writeIssuerDir(dir, { issuer: { certPem: good.issuer.certPem, keyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }, anchor: good.anchor });
    },
    reason: /issuer key: cannot parse/,
  },
  {
    name: 'fail/empty-bundle',
    write: async (dir) => {
      writeIssuerDir(dir, good);
      writeFileSync(join(dir, 'ca.crt'), '');
    },
    reason: /no PEM CERTIFICATE/,
    part: 'bundle',
  },
  {
    name: 'fail/bundle-missing',
    write: async (dir) => {
      writeIssuerDir(dir, good);
      rmSync(join(dir, 'ca.crt'));
    },
    reason: /no trust bundle in/,
    part: 'bundle',
    result: 'error',
  },
];

describe('IssuerStore refuses a bad issuer at start', () => {
  test.each(badCases.map((c) => [c.name, c] as const))('%s', async (_n, c) => {
    const dir = tempDir();
    await c.write(dir);
    const logs = new LogSink();
    const registry = createRegistry();
    const store = new IssuerStore({ issuerDir: dir, logger: logs.logger(), registry, pollIntervalMs: 60_000 });
    await store.start();
    try {
      expect(store.current()).toBeNull();
      expect(store.unavailableReason()).toMatch(c.reason);
      expect(logs.where({ event: rejectedEvent(c) })).toHaveLength(1);
      expect(String(logs.where({ event: rejectedEvent(c) })[0].reason)).toMatch(c.reason);
      expect(await reloadCount(registry, c.result ?? 'refused', c.part)).toBe(1);
    } finally {
      store.stop();
    }
  });
});

describe('IssuerStore keeps the last good issuer', () => {
  test.each(badCases.map((c) => [c.name, c] as const))('%s after a good one', async (_n, c) => {
    const dir = tempDir();
    writeIssuerDir(dir, good);
    const logs = new LogSink();
    const registry = createRegistry();
    const store = new IssuerStore({ issuerDir: dir, logger: logs.logger(), registry, pollIntervalMs: 60_000 });
    await store.start();
    try {
      const first = store.current();
      expect(first?.fingerprint).toBe(good.issuerCert.fingerprint256);
      await c.write(dir);
      await store.reload();
      expect(store.current()).toBe(first);
      expect(await reloadCount(registry, 'ok')).toBe(1);
      expect(await reloadCount(registry, 'ok', 'bundle')).toBe(1);
      expect(await reloadCount(registry, c.result ?? 'refused', c.part)).toBe(1);
      expect(logs.where({ event: rejectedEvent(c) })).toHaveLength(1);
      // The same bad files again are not re-reported.
      await store.reload();
      expect(await reloadCount(registry, c.result ?? 'refused', c.part)).toBe(1);
    } finally {
      store.stop();
    }
  });
});

test('ok/issuer becomes unavailable when it expires, and metrics show its expiry', async () => {
  const dir = tempDir();
  writeIssuerDir(dir, good);
  let now = Date.now();
  const registry = createRegistry();
  const store = new IssuerStore({ issuerDir: dir, logger: new LogSink().logger(), registry, clock: () => now });
  await store.start();
  try {
    expect(store.current()).not.toBeNull();
    const expiry = await registry.getSingleMetric('lanyard_identity_issuer_expiry_timestamp_seconds')!.get();
    expect(expiry.values[0].value).toBe(Date.parse(good.issuerCert.validTo) / 1000);
    const anchors = await registry.getSingleMetric('lanyard_identity_trust_anchor_expiry_timestamp_seconds')!.get();
    expect(anchors.values[0].value).toBe(Date.parse(good.anchorCert.validTo) / 1000);
    now = Date.parse(good.issuerCert.validTo) + 1000;
    expect(store.current()).toBeNull();
    expect(store.unavailableReason()).toMatch(/expired at/);
  } finally {
    store.stop();
  }
});

test('ok/crt.pem + key.pem layout and a separate trust-anchor file', async () => {
  const dir = tempDir();
  const anchors = join(tempDir(), 'bundle.pem');
  const other = await createAnchor({ commonName: 'other-root' });
  writeFileSync(join(dir, 'crt.pem'), good.issuer.certPem);
  writeFileSync(join(dir, 'key.pem'), good.issuer.keyPem);
  writeFileSync(anchors, other.certPem + good.anchor.certPem);
  const store = new IssuerStore({ issuerDir: dir, trustAnchors: anchors, logger: new LogSink().logger() });
  await store.start();
  try {
    expect(store.current()?.bundle.anchors).toHaveLength(2);
    expect(store.current()?.chain).toHaveLength(1);
  } finally {
    store.stop();
  }
});

test('ok/a bundle that adds an anchor is a bundle reload, not an issuer reload; one that drops the issuer\'s anchor is refused', async () => {
  const dir = tempDir();
  writeIssuerDir(dir, good);
  const logs = new LogSink();
  const registry = createRegistry();
  const store = new IssuerStore({ issuerDir: dir, logger: logs.logger(), registry, pollIntervalMs: 60_000 });
  const changes: string[] = [];
  await store.start();
  store.onChange((i) => changes.push(i.fingerprint));
  try {
    const first = store.bundleFingerprint();
    const other = await createAnchor({ commonName: 'next-root' });
    writeFileSync(join(dir, 'ca.crt'), good.anchor.certPem + other.certPem);
    await store.reload();
    expect(store.current()?.bundle.anchors).toHaveLength(2);
    expect(store.bundleFingerprint()).not.toBe(first);
    expect(await reloadCount(registry, 'ok')).toBe(1);
    expect(await reloadCount(registry, 'ok', 'bundle')).toBe(2);
    expect(logs.where({ event: 'trust_bundle_loaded', msg: 'trust bundle reloaded' })[0]).toMatchObject({ added: [new X509Certificate(other.certPem).fingerprint256], removed: [] });
    expect(logs.where({ event: 'issuer_loaded' })).toHaveLength(1);
    expect(changes).toEqual([good.issuerCert.fingerprint256]); // the serving certificate and status streams hear of it

    // Only the new anchor: the issuer in force does not chain to it. Refused as a bundle, both kept.
    writeFileSync(join(dir, 'ca.crt'), other.certPem);
    await store.reload();
    expect(store.current()?.bundle.anchors).toHaveLength(2);
    expect(await reloadCount(registry, 'refused', 'bundle')).toBe(1);
    expect(await reloadCount(registry, 'refused')).toBe(0);
    expect(logs.where({ event: 'trust_bundle_rejected' })[0]).toMatchObject({ code: 'ERR_ISSUER_CHAIN' });
  } finally {
    store.stop();
  }
});

test('ok/the issuer reaching its NotAfter is logged once and told to listeners', async () => {
  const dir = tempDir();
  const short = await createTestPki({ anchor: good.anchor, issuerValidityMs: 2500 });
  writeIssuerDir(dir, short);
  const logs = new LogSink();
  const store = new IssuerStore({ issuerDir: dir, logger: logs.logger(), pollIntervalMs: 60_000 });
  const expired: string[] = [];
  store.onExpiry((i) => expired.push(i.fingerprint));
  await store.start();
  try {
    expect(store.current()).not.toBeNull();
    await until(() => expired.length > 0, 'the expiry listener', 6000);
    expect(expired).toEqual([short.issuerCert.fingerprint256]);
    expect(store.current()).toBeNull();
    expect(store.unavailableReason()).toMatch(/expired at/);
    expect(logs.where({ event: 'issuer_expired' })).toHaveLength(1);
    expect(store.loadedIssuer()?.fingerprint).toBe(short.issuerCert.fingerprint256);
  } finally {
    store.stop();
  }
});
