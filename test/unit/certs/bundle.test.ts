import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  addAnchors,
  addToBundleFile,
  encodeBundle,
  fingerprintOf,
  normalizeFingerprint,
  parseBundle,
  readBundleFile,
  removeAnchors,
  removeFromBundleFile,
  summarizeAnchors,
  type CandidateAnchor,
  type RemoveOptions,
} from '../../../certs/bundle.js';
import { CertsError } from '../../../certs/errors.js';
import { anchor, daysAgo, inTempDir, issuer, leaf, type Ca } from './certs-fixtures.js';

let a: Ca;
let b: Ca;
let c: Ca;
let iss: Ca;
let leafCert: X509Certificate;
let expired: Ca;

beforeAll(async () => {
  [a, b, c] = await Promise.all([anchor('root-a'), anchor('root-b'), anchor('root-c')]);
  iss = await issuer(a);
  leafCert = (await leaf(iss)).cert;
  expired = await anchor('root-expired', { notBefore: daysAgo(10), days: 1 });
});

const subjects = (certs: readonly X509Certificate[]) => certs.map((x) => x.subject);
const offer = (...cas: (Ca | X509Certificate)[]): CandidateAnchor[] => cas.map((x) => ({ cert: 'cert' in x ? x.cert : x, source: 'test.crt' }));

describe('addAnchors', () => {
  type AddCase = [string, () => [X509Certificate[], CandidateAnchor[]], string[], number, number];
  test.each<AddCase>([
    ['ok/add-to-empty', () => [[], offer(a)], ['CN=root-a'], 1, 0],
    ['ok/appends-in-order', () => [[a.cert], offer(c, b)], ['CN=root-a', 'CN=root-c', 'CN=root-b'], 2, 0],
    ['ok/dedup-existing', () => [[a.cert, b.cert], offer(b)], ['CN=root-a', 'CN=root-b'], 0, 1],
    ['ok/dedup-within-request', () => [[], offer(a, a)], ['CN=root-a'], 1, 1],
    ['ok/dedup-by-fingerprint-not-subject', () => [[a.cert], offer(new X509Certificate(a.certPem))], ['CN=root-a'], 0, 1],
    ['ok/intermediate-ca-allowed', () => [[a.cert], offer(iss)], ['CN=root-a', 'CN=identity.lanyard.cluster.local'], 1, 0],
  ])('%s', (_name, input, expected, added, present) => {
    const [current, candidates] = input();
    const change = addAnchors(current, candidates);
    expect(subjects(change.anchors)).toEqual(expected);
    expect(change.added).toHaveLength(added);
    expect(change.alreadyPresent).toHaveLength(present);
  });

  test('ok/notes an expired or non-self-signed anchor', () => {
    const change = addAnchors([], offer(expired, iss));
    expect(change.notes).toEqual([expect.stringMatching(/CN=root-expired expired at/), expect.stringMatching(/identity.* is not self-signed/)]);
  });

  test('fail/non-CA certificate is refused, naming its source', () => {
    expect(() => addAnchors([a.cert], [{ cert: leafCert, source: 'leaf.crt' }])).toThrow(
      expect.objectContaining({ code: 'ERR_CERTS_BUNDLE', message: expect.stringMatching(/^leaf\.crt: .* is not a CA certificate/) }),
    );
  });
});

describe('removeAnchors', () => {
  type RemoveCase = [string, () => [X509Certificate[], string[], RemoveOptions], string[]];
  test.each<RemoveCase>([
    ['ok/remove-first-keeps-order', () => [[a.cert, b.cert, c.cert], [fingerprintOf(a.cert)], {}], ['CN=root-b', 'CN=root-c']],
    ['ok/remove-several', () => [[a.cert, b.cert, c.cert], [fingerprintOf(c.cert), fingerprintOf(a.cert)], {}], ['CN=root-b']],
    ['ok/last-with-allow-empty', () => [[a.cert], [fingerprintOf(a.cert)], { allowEmpty: true }], []],
  ])('%s', (_name, input, expected) => {
    const [current, fps, opts] = input();
    expect(subjects(removeAnchors(current, fps, opts).anchors)).toEqual(expected);
  });

  test.each([
    ['fail/last-anchor', () => removeAnchors([a.cert], [fingerprintOf(a.cert)]), /refusing to remove the last anchor/],
    ['fail/all-anchors', () => removeAnchors([a.cert, b.cert], [fingerprintOf(a.cert), fingerprintOf(b.cert)]), /last anchor/],
    ['fail/unknown-fingerprint', () => removeAnchors([a.cert], [fingerprintOf(b.cert)]), /no anchor with SHA-256 fingerprint/],
  ] as const)('%s', (_name, run, message) => {
    expect(run).toThrow(expect.objectContaining({ code: 'ERR_CERTS_BUNDLE', message: expect.stringMatching(message) }));
  });
});

describe('normalizeFingerprint', () => {
  const hex = 'ab'.repeat(32);
  const canonical = Array(32).fill('AB').join(':');
  test.each([
    ['ok/colons', canonical],
    ['ok/plain-lower-case', hex],
    ['ok/sha256-prefix', `sha256:${hex}`],
    ['ok/openssl-output', `sha256 Fingerprint=${canonical}`],
  ])('%s', (_name, input) => {
    expect(normalizeFingerprint(input)).toBe(canonical);
  });
  test.each([
    ['fail/prefix-only', hex.slice(0, 16)],
    ['fail/not-hex', 'zz'.repeat(32)],
    ['fail/sha1-length', 'ab'.repeat(20)],
  ])('%s', (_name, input) => {
    expect(() => normalizeFingerprint(input)).toThrow(/--fingerprint: expected a SHA-256 fingerprint/);
  });
});

describe('parseBundle', () => {
  test('ok/empty text is an empty bundle', () => {
    expect(parseBundle('', 'b.pem')).toEqual([]);
    expect(parseBundle('\n', 'b.pem')).toEqual([]);
  });
  test('ok/round-trips through encodeBundle in order', () => {
    const parsed = parseBundle(encodeBundle([b.cert, a.cert]), 'b.pem');
    expect(subjects(parsed)).toEqual(['CN=root-b', 'CN=root-a']);
  });
  test.each<[string, () => string, RegExp]>([
    ['fail/private-key', () => a.certPem + a.keyPem, /PRIVATE KEY block.*must never be in a bundle/],
    ['fail/not-pem', () => 'hello', /is not a PEM file/],
  ])('%s', (_name, text, message) => {
    expect(() => parseBundle(text(), 'b.pem')).toThrow(message);
  });
});

describe('bundle files', () => {
  const write = (path: string, ...cas: Ca[]) => writeFileSync(path, cas.map((x) => x.certPem).join(''));

  test('ok/add creates the bundle 0644 and the rotate sequence ends with only the new anchor', () =>
    inTempDir((dir) => {
      const bundle = join(dir, 'sub', 'bundle.pem');
      const [oldCa, newCa] = [join(dir, 'old.crt'), join(dir, 'new.crt')];
      write(oldCa, a);
      write(newCa, b);
      addToBundleFile(bundle, [oldCa]);
      expect(statSync(bundle).mode & 0o777).toBe(0o644);
      addToBundleFile(bundle, [newCa]);
      expect(subjects(readBundleFile(bundle))).toEqual(['CN=root-a', 'CN=root-b']);
      removeFromBundleFile(bundle, { certPaths: [oldCa] });
      expect(subjects(readBundleFile(bundle))).toEqual(['CN=root-b']);
      expect(statSync(bundle).mode & 0o777).toBe(0o644);
    }));

  test('ok/adding only duplicates leaves the file byte-for-byte alone', () =>
    inTempDir((dir) => {
      const bundle = join(dir, 'bundle.pem');
      writeFileSync(bundle, `# managed by hand\n${a.certPem}`);
      write(join(dir, 'a.crt'), a);
      const change = addToBundleFile(bundle, [join(dir, 'a.crt')]);
      expect(change.added).toHaveLength(0);
      expect(readFileSync(bundle, 'utf8').startsWith('# managed by hand')).toBe(true);
    }));

  test('ok/remove by fingerprint in any accepted spelling', () =>
    inTempDir((dir) => {
      const bundle = join(dir, 'bundle.pem');
      write(bundle, a, b);
      removeFromBundleFile(bundle, { fingerprints: [fingerprintOf(a.cert).replace(/:/g, '').toLowerCase()] });
      expect(subjects(readBundleFile(bundle))).toEqual(['CN=root-b']);
    }));

  test.each([
    ['fail/non-CA leaves the bundle untouched', (dir: string, bundle: string) => {
      writeFileSync(join(dir, 'leaf.crt'), leafCert.toString());
      return () => addToBundleFile(bundle, [join(dir, 'a.crt'), join(dir, 'leaf.crt')]);
    }, /not a CA certificate/],
    ['fail/last anchor leaves the bundle untouched', (_dir: string, bundle: string) => () => removeFromBundleFile(bundle, { certPaths: [bundle] }), /last anchor/],
    ['fail/both fingerprint and files', (dir: string, bundle: string) => () =>
      removeFromBundleFile(bundle, { fingerprints: [fingerprintOf(a.cert)], certPaths: [join(dir, 'a.crt')] }), /not both/],
    ['fail/missing bundle for remove', (dir: string) => () => removeFromBundleFile(join(dir, 'none.pem'), { certPaths: [join(dir, 'a.crt')] }), /--bundle: .*none\.pem does not exist/],
  ] as const)('%s', (_name, setup, message) =>
    inTempDir((dir) => {
      const bundle = join(dir, 'bundle.pem');
      write(bundle, a);
      write(join(dir, 'a.crt'), a);
      const before = readFileSync(bundle, 'utf8');
      const run = setup(dir, bundle);
      expect(run).toThrow(CertsError);
      expect(run).toThrow(message);
      expect(readFileSync(bundle, 'utf8')).toBe(before);
    }));
});

describe('summarizeAnchors', () => {
  test('ok/fields for list --json', () => {
    const [s, e] = summarizeAnchors([a.cert, expired.cert]);
    expect(s).toEqual({
      index: 1,
      subject: 'CN=root-a',
      fingerprintSha256: a.cert.fingerprint256,
      notBefore: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      notAfter: expect.stringMatching(/Z$/),
      status: 'valid',
      selfSigned: true,
    });
    expect(e.status).toBe('expired');
  });
});
